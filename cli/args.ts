import { ConfigError } from '../config/errors';

export interface GlobalOptions {
  inventory?: string;
  config?: string;
  sets: string[];
  workdir?: string;
  output: 'text' | 'json';
  help: boolean;
  /** Command-specific flags (`--follow`, `--all`, …), by name. */
  flags: Record<string, string | true>;
}

export interface ParsedArgs {
  words: string[];
  options: GlobalOptions;
}

const WITH_VALUE = new Set(['inventory', 'config', 'set', 'workdir', 'output']);
const SHORT: Record<string, string> = { i: 'inventory', c: 'config', o: 'output', h: 'help' };

/**
 * KubeKey's flags: -i/--inventory, -c/--config, --set (repeatable), --workdir, plus --output and command flags.
 * Command flags in `valueFlags` take a value (`--local-host a` or `--local-host=a`); repeated, the values join with commas.
 */
export function parseArgs(argv: readonly string[], commandFlags: ReadonlySet<string> = new Set(), valueFlags: ReadonlySet<string> = new Set()): ParsedArgs {
  const words: string[] = [];
  const options: GlobalOptions = { sets: [], output: 'text', help: false, flags: {} };
  const problems: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      words.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      words.push(arg);
      continue;
    }
    let name: string;
    let value: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      name = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
      value = eq > 0 ? arg.slice(eq + 1) : undefined;
    } else {
      name = SHORT[arg.slice(1, 2)] ?? arg.slice(1);
      value = arg.length > 2 ? arg.slice(2) : undefined;
    }
    if (name === 'help') {
      options.help = true;
      continue;
    }
    if (WITH_VALUE.has(name)) {
      if (value === undefined) {
        value = argv[i + 1];
        if (value === undefined) {
          problems.push(`${arg}: needs a value`);
          continue;
        }
        i++;
      }
      if (name === 'set') options.sets.push(value);
      else if (name === 'output') {
        if (value !== 'text' && value !== 'json') problems.push(`--output: "${value}" is not text or json`);
        else options.output = value;
      } else (options as unknown as Record<string, string>)[name] = value;
      continue;
    }
    if (valueFlags.has(name)) {
      if (value === undefined) {
        value = argv[i + 1];
        if (value === undefined || value.startsWith('-')) {
          problems.push(`${arg}: needs a value`);
          continue;
        }
        i++;
      }
      const before = options.flags[name];
      options.flags[name] = typeof before === 'string' ? `${before},${value}` : value;
      continue;
    }
    if (commandFlags.has(name)) {
      options.flags[name] = value ?? true;
      continue;
    }
    problems.push(`${arg}: unknown flag`);
  }
  if (problems.length) throw new ConfigError(problems);
  return { words, options };
}
