import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { formatNumber, markdownTable } from './report-markdown.js';
import type { RunRecord } from './run-record.js';

/**
 * What each default of the gateway costs: S1 (RSS per idle connection) and S2 (CPU per frame
 * delivered) against the gateway as shipped, then with one costly feature turned off at a time,
 * all in one run. Each variant is a run of run-bench.js with BENCH_GATEWAY_ENV set, so it is
 * started, measured and recorded exactly like the gateway target of any other run.
 */
export interface DefaultVariant {
  /** What is turned off, as the table names it. */
  name: string;
  /** BENCH_GATEWAY_ENV: the settings that turn it off; empty for the shipped defaults. */
  env: string;
  /** What the feature does for users, so that its price can be weighed. */
  buys: string;
}

export const DEFAULT_VARIANTS: readonly DefaultVariant[] = [
  { name: 'shipped defaults', env: '', buys: '' },
  {
    name: 'metrics off',
    env: 'METRICS_ENABLED=false',
    buys: '`/metrics` for Prometheus',
  },
  {
    name: 'data-path canary off',
    env: 'CANARY_INTERVAL_MS=0',
    buys: 'readiness that proves updates flow, not just a connection',
  },
  {
    name: 'protocol heartbeat off',
    env: 'WS_HEARTBEAT_INTERVAL_MS=0',
    buys: 'dead connections found and freed within two intervals',
  },
  {
    name: 'rate limiting off',
    env: 'WS_RATE_LIMIT_PER_SECOND=0',
    buys: "one client's flood cannot take the instance's CPU",
  },
  {
    name: 'cluster heartbeat off',
    env: 'CLUSTER_HEARTBEAT_INTERVAL_MS=0',
    buys: '`/ws/stats?scope=cluster`',
  },
  {
    name: 'API docs and demo page off',
    env: 'API_DOCS_ENABLED=false,DEMO_PAGE=false',
    buys: '`/api/docs` and the demo page',
  },
];

const START =
  '<!-- bench:defaults:start (written by npm run bench:defaults; edit outside these markers) -->';
const END = '<!-- bench:defaults:end -->';

interface VariantResult {
  variant: DefaultVariant;
  rssPerConnectionKiB: number | undefined;
  cpuMicrosPerFrame: number | undefined;
  deliveredPerSec: number | undefined;
  complete: boolean;
  record: string;
}

interface DefaultsRecord {
  schema: 'task-status-gateway-bench-defaults/1';
  startedAt: string;
  finishedAt: string;
  args: string[];
  results: VariantResult[];
}

/** A variant's name as `--variants` and the record files take it: `metrics-off`. */
export function slugOf(variant: DefaultVariant): string {
  return variant.name.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
}

/** The variants `--variants` names, in the table's order; all without it. */
export function selectVariants(list: unknown): DefaultVariant[] {
  if (typeof list !== 'string') return [...DEFAULT_VARIANTS];
  const wanted = list
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  for (const name of wanted) {
    if (!DEFAULT_VARIANTS.some((variant) => slugOf(variant) === name)) {
      throw new Error(
        `unknown variant "${name}"; expected some of ${DEFAULT_VARIANTS.map(slugOf).join(', ')}`,
      );
    }
  }
  return DEFAULT_VARIANTS.filter((variant) => wanted.includes(slugOf(variant)));
}

function log(message: string): void {
  process.stdout.write(`${message}\n`);
}

/** Runs run-bench.js for one variant into its own results folder; resolves with its record. */
async function measure(
  variant: DefaultVariant,
  benchArgs: string[],
  dir: string,
): Promise<RunRecord> {
  const runBench = fileURLToPath(new URL('./run-bench.js', import.meta.url));
  const child = spawn(
    process.execPath,
    [
      runBench,
      '--targets',
      'gateway',
      '--scenarios',
      'S1,S2',
      '--no-docs',
      '--results-dir',
      dir,
      ...benchArgs,
    ],
    { stdio: 'inherit', env: { ...process.env, BENCH_GATEWAY_ENV: variant.env } },
  );
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`run-bench.js for "${variant.name}" exited ${String(code)}`);
  const json = readdirSync(dir).find((file) => file.endsWith('.json'));
  if (!json) throw new Error(`run-bench.js for "${variant.name}" wrote no record in ${dir}`);
  return JSON.parse(readFileSync(join(dir, json), 'utf8')) as RunRecord;
}

function resultOf(variant: DefaultVariant, run: RunRecord, record: string): VariantResult {
  const median = (scenario: string, key: string): number | undefined =>
    run.cells.find((cell) => cell.scenario === scenario && cell.target === 'gateway')?.median[key];
  const msPer1k = median('S2', 'serverCpuMsPer1kFrames');
  return {
    variant,
    rssPerConnectionKiB: median('S1', 'rssPerConnectionKiB'),
    // ms per 1,000 frames is µs per frame.
    cpuMicrosPerFrame: msPer1k,
    deliveredPerSec: median('S2', 'deliveredPerSec'),
    complete: run.cells.every((cell) => cell.complete),
    record,
  };
}

function change(value: number | undefined, base: number | undefined): string {
  if (value === undefined || base === undefined || base === 0) return '–';
  const percent = ((value - base) / base) * 100;
  return `${percent >= 0 ? '+' : ''}${percent.toFixed(1)} %`;
}

/** The table of one run: each variant's figures and their change against the shipped defaults. */
export function renderDefaults(record: DefaultsRecord): string {
  const base = record.results.find((r) => r.variant.env === '');
  const rows = record.results.map((r) => [
    r.variant.name,
    r.variant.env === '' ? '(none)' : `\`${r.variant.env}\``,
    formatNumber(r.rssPerConnectionKiB),
    r === base ? '' : change(r.rssPerConnectionKiB, base?.rssPerConnectionKiB),
    formatNumber(r.cpuMicrosPerFrame),
    r === base ? '' : change(r.cpuMicrosPerFrame, base?.cpuMicrosPerFrame),
    formatNumber(r.deliveredPerSec),
    r.complete ? 'yes' : '**no**',
    r.variant.buys,
  ]);
  return [
    `Measured from ${record.startedAt.slice(0, 16).replace('T', ' ')} UTC to ` +
      `${record.finishedAt.slice(11, 16)} UTC with \`${['npm run bench:defaults --', ...record.args].join(' ')}\`. ` +
      'Every variant is the gateway target of a run of its own (started as `node dist/main.js` ' +
      'with the bench environment and the connection limit raised, plus the settings shown), one ' +
      'after the other; its record is linked below. A change within a few per cent is within the ' +
      "noise of one run; a negative change means the feature's price could not be told from it.",
    '',
    markdownTable(
      [
        'variant',
        'settings',
        'S1 RSS per idle connection (KiB)',
        'change',
        'S2 CPU per frame (µs)',
        'change',
        'S2 frames/s',
        'nothing lost',
        'what the feature buys',
      ],
      rows,
    ),
    '',
    `Records: ${record.results.map((r) => `[${r.variant.name}](${r.record})`).join(', ')}.`,
  ].join('\n');
}

function writeDocs(docsPath: string, body: string): void {
  const current = readFileSync(docsPath, 'utf8');
  const start = current.indexOf(START);
  const end = current.indexOf(END);
  const generated = `${START}\n\n${body}\n\n${END}`;
  const next =
    start >= 0 && end > start
      ? `${current.slice(0, start)}${generated}${current.slice(end + END.length)}`
      : `${current.trimEnd()}\n\n## The price of each default\n\n${generated}\n`;
  writeFileSync(docsPath, next);
}

async function main(): Promise<number> {
  const { values, tokens } = parseArgs({
    args: process.argv.slice(2),
    strict: false,
    tokens: true,
    options: {
      'results-dir': { type: 'string' },
      docs: { type: 'boolean' },
      'no-docs': { type: 'boolean' },
      smoke: { type: 'boolean' },
      variants: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    log(
      'Usage: npm run bench:defaults -- [--variants LIST] [--results-dir DIR] [--no-docs]\n' +
        '                                 [run-bench options]\n\n' +
        'Runs S1 and S2 against the gateway as shipped and with each costly default turned off,\n' +
        'one at a time; writes <results dir>/<timestamp>-price-of-defaults.{json,md} and, unless --no-docs\n' +
        "or --smoke, the section 'The price of each default' of docs/benchmarks.md.\n" +
        '--variants takes a comma-separated list of the names below (default: all, in this order).\n' +
        `Variants:\n${DEFAULT_VARIANTS.map((v) => `  ${slugOf(v)}: ${v.env || '(none)'}`).join('\n')}`,
    );
    return 0;
  }
  // Everything but this script's own options goes to each run of run-bench.js.
  const own = new Set(['results-dir', 'docs', 'no-docs', 'variants']);
  const passed: string[] = [];
  for (const token of tokens ?? []) {
    if (token.kind === 'option' && own.has(token.name)) continue;
    if (token.kind === 'option') {
      passed.push(token.rawName);
      if (token.value !== undefined) passed.push(token.value);
    } else if (token.kind === 'positional') passed.push(token.value);
  }
  const resultsDir = resolve(
    typeof values['results-dir'] === 'string'
      ? values['results-dir']
      : (process.env.BENCH_RESULTS_DIR ?? 'bench/results'),
  );
  const writeToDocs = values.docs === true || (values['no-docs'] !== true && values.smoke !== true);
  mkdirSync(resultsDir, { recursive: true });
  const startedAt = new Date().toISOString();
  const stamp = startedAt.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z');
  const results: VariantResult[] = [];
  for (const variant of selectVariants(values.variants)) {
    log(`\n== ${variant.name}${variant.env ? ` (BENCH_GATEWAY_ENV=${variant.env})` : ''}`);
    const scratch = mkdtempSync(join(tmpdir(), 'bench-defaults-'));
    try {
      const run = await measure(variant, passed, scratch);
      // Keep each variant's own record beside the summary, named after it.
      const base = `${stamp}-defaults-${slugOf(variant)}`;
      for (const file of readdirSync(scratch)) {
        const extension = file.slice(file.indexOf('.'));
        writeFileSync(join(resultsDir, `${base}${extension}`), readFileSync(join(scratch, file)));
      }
      results.push(resultOf(variant, run, `${base}.json`));
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }
  const record: DefaultsRecord = {
    schema: 'task-status-gateway-bench-defaults/1',
    startedAt,
    finishedAt: new Date().toISOString(),
    args: passed,
    results,
  };
  const summary = join(resultsDir, `${stamp}-price-of-defaults`);
  writeFileSync(`${summary}.json`, `${JSON.stringify(record, null, 2)}\n`);
  writeFileSync(`${summary}.md`, `${renderDefaults(record)}\n`);
  log(`\n${renderDefaults(record)}\n\nwrote ${relative(process.cwd(), summary)}.{json,md}`);
  const docsPath = resolve('docs/benchmarks.md');
  if (writeToDocs && existsSync(docsPath)) {
    // Links from docs/ to the records.
    const docsRecord = {
      ...record,
      results: record.results.map((r) => ({
        ...r,
        record: relative(resolve('docs'), join(resultsDir, r.record)),
      })),
    };
    writeDocs(docsPath, renderDefaults(docsRecord));
    log('rewrote the defaults section of docs/benchmarks.md');
  }
  return results.every((r) => r.complete) ? 0 : 1;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
