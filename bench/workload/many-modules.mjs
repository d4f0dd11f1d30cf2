// Writes and compiles a TypeScript service of `count` modules (tsc --sourceMap: a .js.map beside each
// .js), for the source-map benchmark and the thousands-of-maps test. Each module has one function that
// burns `n` loop iterations; GET /?n=N calls every module's function once.
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const run = promisify(execFile);
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The 1-based line of `work<i>`'s declaration in its module, for tests. */
export const WORK_FUNCTION_LINE = 5;

/**
 * Writes `<dir>/src/m<i>.ts` and `<dir>/src/main.ts`, compiles them into `<dir>/dist` and returns
 * { entry, srcDir, outDir }.
 */
export async function writeManyModulesApp(dir, count) {
  const srcDir = path.join(dir, 'src');
  const outDir = path.join(dir, 'dist');
  mkdirSync(srcDir, { recursive: true });
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `many-modules-${count}`, version: '1.0.0', private: true }));
  for (let i = 0; i < count; i++) {
    writeFileSync(
      path.join(srcDir, `m${i}.ts`),
      [
        `// Module ${i} of ${count}.`,
        `export interface Input${i} {`,
        '  n: number;',
        '}',
        `export function work${i}(input: Input${i}): number {`,
        `  let acc = ${i};`,
        '  for (let k = 0; k < input.n; k++) acc = (Math.imul(acc, 31) + k) | 0;',
        '  return acc;',
        '}',
        '',
      ].join('\n'),
    );
  }
  const imports = Array.from({ length: count }, (_, i) => `import { work${i} } from './m${i}';`);
  writeFileSync(
    path.join(srcDir, 'main.ts'),
    [
      "import * as http from 'node:http';",
      ...imports,
      `const works = [${Array.from({ length: count }, (_, i) => `work${i}`).join(', ')}];`,
      'const server = http.createServer((req, res) => {',
      "  const n = Number(new URL(req.url ?? '/', 'http://localhost').searchParams.get('n') ?? 1000);",
      '  let acc = 0;',
      '  for (const work of works) acc ^= work({ n });',
      '  res.end(String(acc));',
      '});',
      "server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {",
      '  const address = server.address();',
      "  if (address && typeof address === 'object') console.log(JSON.stringify({ listening: address.port }));",
      '});',
      '',
    ].join('\n'),
  );
  const tsc = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsc');
  await run(
    tsc,
    [
      '--module', 'commonjs', '--target', 'es2022', '--strict', '--skipLibCheck', '--sourceMap',
      '--typeRoots', path.join(REPO_ROOT, 'node_modules', '@types'), '--types', 'node',
      '--rootDir', srcDir, '--outDir', outDir,
      path.join(srcDir, 'main.ts'),
    ],
    { cwd: dir, maxBuffer: 16 * 1024 * 1024 },
  );
  return { entry: path.join(outDir, 'main.js'), srcDir, outDir };
}
