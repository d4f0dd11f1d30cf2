/**
 * The `span-profiles` command: dispatches to its subcommands, each loaded only when used so that
 * `doctor` does not pay for the report code and `view` stays a separate module.
 */

import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from './args';
import { describeError } from '../logger';

/** What every subcommand module provides. */
export interface Subcommand {
  /** One line for the command list. */
  summary: string;
  /** The full `--help` text. */
  usage(): string;
  /** Runs with the arguments after the subcommand's name; resolves to the exit code. */
  run(argv: string[]): Promise<number>;
}

const SUBCOMMANDS: Record<string, { summary: string; load: () => Subcommand }> = {
  report: { summary: 'the root spans that used the most CPU, and their hottest functions', load: () => (require('./report') as typeof import('./report')).reportCommand },
  pprof: { summary: 'write the merged pprof of a span, a trace or a span name', load: () => (require('./pprof') as typeof import('./pprof')).pprofCommand },
  view: { summary: 'browse the store in a web browser', load: loadView },
  doctor: { summary: 'check the configuration, Node, the profiler and the endpoints', load: () => (require('./doctor') as typeof import('./doctor')).doctorCommand },
};

/** The top-level `--help` text. */
export function mainUsage(): string {
  const names = Object.keys(SUBCOMMANDS);
  const width = Math.max(...names.map((n) => n.length)) + 2;
  return [
    'Usage: span-profiles <command> [options]',
    '',
    'Which requests burned CPU, and in which functions: reads what the agent',
    '(node --require @acme/span-profiles/register app.js) wrote to its local store.',
    '',
    'Commands:',
    ...names.map((n) => `  ${n.padEnd(width)}${SUBCOMMANDS[n]!.summary}`),
    `  ${'help'.padEnd(width)}this text, or 'help <command>' for a command's`,
    '',
    'Options:',
    '  -h, --help     show help',
    '  -v, --version  print the version',
    '',
    'The store: the [dir] given, else SPAN_PROFILES_DIR, else <tmpdir>/span-profiles.',
    "Run 'span-profiles <command> --help' for a command's options.",
  ].join('\n');
}

/** Runs the command line `argv` (without node and script) and resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '-h' || first === '--help') {
    (first === undefined ? process.stderr : process.stdout).write(mainUsage() + '\n');
    return first === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (first === '-v' || first === '--version') {
    process.stdout.write(`${(require('../version') as typeof import('../version')).AGENT_VERSION}\n`);
    return EXIT_OK;
  }
  if (first === 'help') {
    if (rest[0] === undefined) {
      process.stdout.write(mainUsage() + '\n');
      return EXIT_OK;
    }
    return runSubcommand(rest[0], ['--help']);
  }
  return runSubcommand(first, rest);
}

async function runSubcommand(name: string, argv: string[]): Promise<number> {
  const entry = Object.hasOwn(SUBCOMMANDS, name) ? SUBCOMMANDS[name] : undefined;
  if (entry === undefined) {
    process.stderr.write(`span-profiles: unknown command '${name}'\n\n${mainUsage()}\n`);
    return EXIT_USAGE;
  }
  let command: Subcommand;
  try {
    command = entry.load();
  } catch (error) {
    process.stderr.write(`span-profiles ${name}: ${describeError(error)}\n`);
    return EXIT_FAILURE;
  }
  try {
    return await command.run(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`span-profiles ${name}: ${error.message}\nRun 'span-profiles ${name} --help' for usage.\n`);
      return EXIT_USAGE;
    }
    process.stderr.write(`span-profiles ${name}: ${(error as Error)?.stack ?? String(error)}\n`);
    return EXIT_FAILURE;
  }
}

/** The browser view lives in ./view (its own module, built separately); adapt its `runView`. */
function loadView(): Subcommand {
  let view: { runView?: (argv: string[]) => unknown; usage?: () => string };
  try {
    view = require('./view/index.js') as typeof import('./view/index.js');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'MODULE_NOT_FOUND') throw new Error('the browser view is not part of this build (dist/cli/view/index.js is missing)');
    throw error;
  }
  if (typeof view.runView !== 'function') throw new Error('dist/cli/view/index.js has no runView export');
  const runView = view.runView;
  return {
    summary: SUBCOMMANDS.view!.summary,
    usage: () => view.usage?.() ?? 'Usage: span-profiles view [dir]',
    // The view may keep a server running: a void result means "not finished", so no exit code is set.
    run: async (argv) => {
      const result = await runView(argv);
      return typeof result === 'number' ? result : EXIT_OK;
    },
  };
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`span-profiles: ${String(error)}\n`);
      process.exitCode = EXIT_FAILURE;
    },
  );
}
