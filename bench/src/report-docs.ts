import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, relative } from 'node:path';
import { SIZE_DEFAULTS } from './bench-options.js';
import { markdownTable, renderMarkdown } from './report-markdown.js';
import type { RunRecord } from './run-record.js';
import { shellWord } from './target-configuration.js';

const START = '<!-- bench:results:start (written by npm run bench; edit outside these markers) -->';
const END = '<!-- bench:results:end -->';

/** The run's label, machine, load, pinning and targets, as markdown. */
export function describeRun(run: RunRecord, resultsFile: string): string {
  const m = run.machine;
  const changed = Object.entries(run.sizes).filter(
    ([name, value]) => SIZE_DEFAULTS[name as keyof typeof SIZE_DEFAULTS] !== value,
  );
  const label =
    run.label === 'full'
      ? 'a **full** run (the sizes of issue 5)'
      : changed.length === 0
        ? `a **${run.label}** run (some of the targets or scenarios, at their default sizes)`
        : `a **${run.label}** run with sizes changed from issue 5's: ${changed
            .map(
              ([name, value]) =>
                `\`--${name} ${value}\` (default ${SIZE_DEFAULTS[name as keyof typeof SIZE_DEFAULTS]})`,
            )
            .join(', ')}`;
  const saturated = run.cells.filter((cell) => cell.loadGeneratorSaturated).length;
  const busy = run.loadAverage.start[0] >= 1 || run.loadAverage.end[0] >= 1;
  const warning = busy
    ? [
        `> **The machine was busy during this run** (load average ${run.loadAverage.start[0]} at ` +
          `the start and ${run.loadAverage.end[0]} at the end, on ${m.cpus} CPUs; ` +
          `${saturated} of ${run.cells.length} results flagged "load generator saturated"). ` +
          'Other processes shared the CPUs, so absolute figures are low and noisy, and even the ' +
          'ratios carry their noise: re-run `npm run bench` on a quiet machine before quoting them.',
        '',
      ]
    : saturated > 0
      ? [
          `> The machine was quiet (load average ${run.loadAverage.start[0]} at the start and ` +
            `${run.loadAverage.end[0]} at the end, on ${m.cpus} CPUs), but ${saturated} of ` +
            `${run.cells.length} results are flagged "load generator saturated": in those, the ` +
            'client CPU may have set the pace rather than the target, so their throughput is a ' +
            'lower bound for the target.',
          '',
        ]
      : [];
  const lines = [
    ...warning,
    `Measured on ${run.startedAt.slice(0, 16).replace('T', ' ')} UTC, ${label}, ` +
      `${run.sizes.reps} repetition(s), every figure the median over them. ` +
      `Record: [${basename(resultsFile)}](${resultsFile}).`,
    '',
    markdownTable(
      ['machine', ''],
      [
        ['CPUs (nproc)', String(m.cpus)],
        ['CPU model', m.cpuModel],
        ['memory', `${m.memoryGiB} GiB`],
        ['Node.js', m.node],
        ['kernel', m.kernel],
        ['redis-server', m.redis],
        ['commit', m.commit],
        ['load average (1, 5, 15 min) at start', run.loadAverage.start.join(', ')],
        ['load average at end', run.loadAverage.end.join(', ')],
        ['CPU pinning', run.pinning.note],
        [
          'a fresh target process',
          run.restartPerScenario ? 'for every scenario' : 'per target and repetition',
        ],
        [
          'one JSON.parse of a ' + String(run.jsonParse.messageBytes) + '-byte update',
          `${(run.jsonParse.medianNsPerParse / 1000).toFixed(2)} µs (median; pinned like the targets)`,
        ],
      ],
    ),
    '',
    'Targets:',
    '',
    ...run.targets.map((t) => `- \`${t.name}\`: ${t.description}`),
    ...run.skipped.map((s) => `- \`${s.target}\`: not measured (${s.reason})`),
    '',
    configurationText(run),
  ];
  return lines.join('\n');
}

/** A code span in a table cell: `|` would end the cell. */
function code(text: string): string {
  return `\`${text.replaceAll('|', '\\|')}\``;
}

/** How each target was started: command, environment, pinning, and the files written for it. */
function configurationText(run: RunRecord): string {
  const configured = run.targets.flatMap(({ name, configuration }) =>
    configuration ? [{ name, c: configuration }] : [],
  );
  if (configured.length === 0) return 'How the targets were started: not recorded in this run.';
  const rows = configured.map(({ name, c }) => [
    code(name),
    code(c.command.map(shellWord).join(' ')),
    Object.entries(c.env)
      .map(([key, value]) => code(`${key}=${shellWord(value)}`))
      .join('<br>'),
    c.cpus === undefined ? 'not pinned' : `${c.cpus} (taskset)`,
  ]);
  const files = configured.flatMap(({ name, c }) =>
    c.files.map(
      (file) =>
        `<details><summary>${name}: ${file.path}</summary>\n\n\`\`\`nginx\n${file.text.trimEnd()}\n\`\`\`\n\n</details>`,
    ),
  );
  const extra = configured.flatMap(({ name, c }) =>
    c.benchGatewayEnv === undefined
      ? []
      : [
          `${code(name)} ran with ${code(`BENCH_GATEWAY_ENV=${c.benchGatewayEnv}`)}: in its environment above.`,
        ],
  );
  return [
    'How each target was started (`<port>` and `<work dir>` chosen afresh for every start, in a new ' +
      'empty directory; it inherits no other environment variable):',
    '',
    markdownTable(['target', 'command', 'environment', 'CPUs'], rows),
    ...(extra.length > 0 ? ['', ...extra] : []),
    ...(files.length > 0 ? ['', ...files] : []),
  ].join('\n');
}

/**
 * Rewrites the generated part of docs/benchmarks.md (between the markers; the method and the
 * analysis around them are written by hand) and the chart beside it.
 */
export function writeDocs(
  run: RunRecord,
  docsPath: string,
  chartPath: string,
  chartSvg: string,
  resultsFile: string,
): void {
  writeFileSync(chartPath, chartSvg);
  const docsDir = docsPath.slice(0, docsPath.lastIndexOf('/'));
  const generated = [
    START,
    describeRun(run, relative(docsDir, resultsFile)),
    renderMarkdown(run, relative(docsDir, chartPath)),
    END,
  ].join('\n\n');
  const current = existsSync(docsPath)
    ? readFileSync(docsPath, 'utf8')
    : `# Benchmarks\n\n## Results\n\n${START}\n${END}\n`;
  const start = current.indexOf(START);
  const end = current.indexOf(END);
  const next =
    start >= 0 && end > start
      ? `${current.slice(0, start)}${generated}${current.slice(end + END.length)}`
      : `${current.trimEnd()}\n\n## Results\n\n${generated}\n`;
  writeFileSync(docsPath, next);
}
