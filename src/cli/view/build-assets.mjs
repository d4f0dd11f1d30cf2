// The build step of the `span-profiles view` page (npm run build:view): copies the page from
// src/cli/view/static into dist/cli/view/static, and bundles the flame graph library with the d3
// modules it needs into static/vendor/, so the page loads nothing from the network at run time.
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../../..');
const source = path.join(here, 'static');
const target = path.join(repoRoot, 'dist', 'cli', 'view', 'static');

// UMD builds, each adding itself to the global `d3`; every module after those it depends on.
const D3_MODULES = [
  'd3-array',
  'd3-color',
  'd3-dispatch',
  'd3-ease',
  'd3-format',
  'd3-interpolate',
  'd3-time',
  'd3-time-format',
  'd3-scale',
  'd3-hierarchy',
  'd3-selection',
  'd3-timer',
  'd3-transition',
];

/** The directory of an installed package, looked up the way Node would from d3-flame-graph. */
function packageDir(name) {
  const flameGraphDir = path.join(repoRoot, 'node_modules', 'd3-flame-graph');
  for (const candidate of [path.join(flameGraphDir, 'node_modules', name), path.join(repoRoot, 'node_modules', name)]) {
    if (existsSync(path.join(candidate, 'package.json'))) return candidate;
  }
  throw new Error(`build:view: ${name} is not installed; run npm install`);
}

const version = (dir) => JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')).version;

rmSync(target, { recursive: true, force: true });
mkdirSync(path.join(target, 'vendor'), { recursive: true });
cpSync(source, target, { recursive: true });

const parts = [];
const licenses = [];
const included = [];
for (const name of D3_MODULES) {
  const dir = packageDir(name);
  parts.push(readFileSync(path.join(dir, 'dist', `${name}.min.js`), 'utf8'));
  licenses.push(`${name} ${version(dir)}\n\n${readFileSync(path.join(dir, 'LICENSE'), 'utf8')}`);
  included.push(`${name}@${version(dir)}`);
}
const flameGraphDir = packageDir('d3-flame-graph');
parts.push(readFileSync(path.join(flameGraphDir, 'dist', 'd3-flamegraph.umd.min.js'), 'utf8'));
licenses.push(`d3-flame-graph ${version(flameGraphDir)}\n\n${readFileSync(path.join(flameGraphDir, 'LICENSE'), 'utf8')}`);
included.push(`d3-flame-graph@${version(flameGraphDir)}`);

const header = `/* ${included.join(', ')}: see THIRD-PARTY-LICENSES.txt beside this file. */\n`;
writeFileSync(path.join(target, 'vendor', 'flamegraph.js'), header + parts.map((p) => `${p.trim()}\n;`).join('\n'));
writeFileSync(path.join(target, 'vendor', 'THIRD-PARTY-LICENSES.txt'), licenses.join('\n\n' + '-'.repeat(72) + '\n\n'));
console.log(`build:view: page copied to ${path.relative(repoRoot, target)} with ${included.join(', ')}`);
