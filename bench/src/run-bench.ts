/**
 * The benchmark of issue 5: `npm run bench` (full) or `npm run bench -- --smoke`.
 * Starts a dedicated redis-server, then each target in turn, and runs scenarios S1..S6 against
 * it with the lean load generator; S7, when named, starts N gateways per mode and a Redis
 * Cluster of its own. Writes bench/results/<timestamp>.{json,md,svg} and, unless --no-docs, the
 * results sections of docs/benchmarks.md (S1–S6) and docs/scaling.md (S7). `--help` lists every
 * option.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { helpText, parseBenchOptions, type BenchOptions } from './bench-options.js';
import { pinnedCommand, pinSelf, resolvePinning, type CpuPinning } from './cpu-pinning.js';
import { fanOutOf, renderFanOutChartSvg, writeScalingDocs } from './fan-out-report.js';
import { runFanOut } from './fan-out-scenario.js';
import { checkFileLimit } from './file-limit.js';
import { LoadWorkerPool } from './load-worker-pool.js';
import { loadAverage, machineInfo } from './machine-info.js';
import { nchanMissing } from './nchan-target.js';
import { cpuList, cpuTimes } from './proc-stats.js';
import { ProcessRegistry } from './process-registry.js';
import { RedisServerProcess } from './redis-server-process.js';
import { renderChartSvg } from './report-chart.js';
import { describeRun, writeDocs } from './report-docs.js';
import {
  formatNumber,
  hasTargetScenarios,
  METRICS,
  renderMarkdown,
  SCENARIO_TITLES,
} from './report-markdown.js';
import { cellRecord, median, type CellRecord, type RunRecord } from './run-record.js';
import { SCENARIOS, type ScenarioMeasurement } from './scenarios.js';
import { describeConfiguration, targetConfiguration } from './target-configuration.js';
import { measuresScenario, targetDefinition, TargetProcess } from './target-process.js';
import { UpdateMessages } from './update-message.js';

const PARSE_BASELINE = fileURLToPath(new URL('./json-parse-baseline.js', import.meta.url));

function log(message: string): void {
  process.stdout.write(`${message}\n`);
}

function maxConnections(options: BenchOptions): number {
  const s = options.sizes;
  return Math.max(
    s['s1-connections'],
    s['s2-tasks'] * s['s2-subscribers'],
    s['s3-connections'],
    s['s4-subscribers'],
    s['s5-watchers'],
    s['s6-readers'] + s['s6-slow'],
  );
}

/** Connections the load generator holds at once in S7: every instance's clients of one mode. */
function fanOutConnections(options: BenchOptions): number {
  const s = options.sizes;
  return options.scenarios.includes('S7')
    ? s['s7-instances'] * s['s7-tasks'] * s['s7-subscribers']
    : 0;
}

/** One JSON.parse of an update, in ns, measured in a child pinned like the targets. */
function measureJsonParse(
  options: BenchOptions,
  pinning: CpuPinning,
): Promise<{ nsPerParse: number; messageBytes: number }> {
  const [command, args] = pinnedCommand(
    process.execPath,
    [
      PARSE_BASELINE,
      String(options.sizes['payload-bytes']),
      String(options.sizes['parse-baseline-ms']),
    ],
    pinning.server,
  );
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      if (code !== 0) reject(new Error(`json-parse-baseline exited ${code}`));
      else resolve(JSON.parse(out) as { nsPerParse: number; messageBytes: number });
    });
  });
}

function failedMeasurement(error: unknown): ScenarioMeasurement {
  return {
    metrics: {},
    loadGenerator: {
      workers: 0,
      coordinator: 0,
      redis: 0,
      share: 0,
      workerMicrosPerFrame: 0,
      clientCpusBusy: 0,
      othersOnTargetCpus: 0,
      saturated: false,
    },
    problems: [`the scenario failed: ${error instanceof Error ? error.message : String(error)}`],
    notes: [],
  };
}

function summary(scenario: keyof typeof METRICS, measurement: ScenarioMeasurement): string {
  const figures = METRICS[scenario]
    .filter((metric) => metric.better !== undefined)
    .map((metric) => `${metric.key}=${formatNumber(measurement.metrics[metric.key])}`);
  const d = measurement.delivery;
  if (d && d.expected > 0) figures.push(`delivered ${d.delivered}/${d.expected}`);
  if (scenario === 'S7') {
    for (const problem of measurement.problems) figures.push(`PROBLEM: ${problem}`);
    return figures.join(' ');
  }
  const usage = measurement.loadGenerator;
  figures.push(
    `loadgen ${Math.round(usage.share * 100)} %, ${formatNumber(usage.workerMicrosPerFrame)} µs/frame ` +
      `(client CPUs ${Math.round(usage.clientCpusBusy * 100)} % busy; ` +
      `others on the target CPU ${formatNumber(usage.othersOnTargetCpus)} cores)`,
  );
  if (measurement.loadGenerator.saturated) figures.push('LOADGEN SATURATED');
  for (const problem of measurement.problems) figures.push(`PROBLEM: ${problem}`);
  return figures.join(' ');
}

function checkPrerequisites(options: BenchOptions): void {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error('redis-server is not installed (sudo apt-get install -y redis-server)');
  }
  const nchan = nchanMissing();
  if (options.targets.includes('nchan') && nchan !== undefined) {
    throw new Error(`cannot measure nchan: ${nchan}`);
  }
  const gateways = options.targets.some((name) => name === 'gateway' || name === 'gateway-sse');
  if (gateways && !existsSync(options.gatewayMain)) {
    throw new Error(
      `${options.gatewayMain} is missing: build the gateway first (npm run build), ` +
        'or point --gateway at a build',
    );
  }
}

/** nchan, optional, is named in the record when it could not be measured for want of it. */
function nchanNote(options: BenchOptions): { target: string; reason: string }[] {
  const missing = nchanMissing();
  return options.targets.includes('nchan') || missing === undefined
    ? []
    : [{ target: 'nchan', reason: `optional; ${missing}` }];
}

async function run(options: BenchOptions): Promise<number> {
  checkPrerequisites(options);
  const registry = new ProcessRegistry();
  registry.installExitHandlers();
  const pinning = resolvePinning(options.pin, options.serverCpus, options.clientCpus);
  pinSelf(pinning.client);
  const startedAt = new Date();
  const loadAtStart = loadAverage();
  log(
    `bench (${options.label}): targets ${options.targets.join(', ')}; scenarios ${options.scenarios.join(', ')}; ${options.sizes.reps} repetition(s)`,
  );
  log(`CPU pinning: ${pinning.note}; load average ${loadAtStart.join(', ')}`);

  const redis = await RedisServerProcess.start(registry, pinning.client);
  const control = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  control.on('error', () => undefined);
  await control.connect();
  const pool = LoadWorkerPool.start(options.sizes.workers, registry);
  const messages = new UpdateMessages(options.sizes['payload-bytes']);
  const connectionsNeeded = maxConnections(options);
  const definitions = options.targets.map((name) =>
    targetDefinition(name, options.gatewayMain, connectionsNeeded, options.cpuProfDir),
  );
  // Printed before measuring and kept in the record: the figures name what produced them.
  const configurations = new Map(
    definitions.map((definition) => [
      definition.name,
      targetConfiguration(definition, {
        redisUrl: redis.url,
        channel: options.channel,
        cpus: pinning.server,
      }),
    ]),
  );
  log('how each target is started (<port> and <work dir> are chosen afresh for every start):');
  for (const [name, configuration] of configurations) {
    log(describeConfiguration(name, configuration));
  }
  const measurements = new Map<string, ScenarioMeasurement[]>();
  const parseRuns: number[] = [];
  const allCpus = [...cpuTimes().keys()];
  let messageBytes = 0;

  try {
    for (let rep = 1; rep <= options.sizes.reps; rep += 1) {
      const parse = await measureJsonParse(options, pinning);
      parseRuns.push(parse.nsPerParse);
      messageBytes = parse.messageBytes;
      log(
        `[rep ${rep}] one JSON.parse of a ${parse.messageBytes}-byte update: ${(parse.nsPerParse / 1000).toFixed(2)} µs`,
      );
      for (const definition of definitions) {
        const name = definition.name;
        let target: TargetProcess | undefined;
        for (const scenario of options.scenarios) {
          if (scenario === 'S7') {
            // S7 starts gateways of its own, and runs once per run: its steps are its repeats.
            if (name !== 'gateway' || rep > 1) continue;
            let measurement: ScenarioMeasurement;
            try {
              measurement = await runFanOut({
                options,
                pool,
                registry,
                redis,
                control,
                serverCpus: pinning.server,
                clientCpus: pinning.client,
                clientCpuList: pinning.client ? cpuList(pinning.client) : allCpus,
                serverCpuList: pinning.server ? cpuList(pinning.server) : undefined,
                runId: `r${rep}-S7`,
                gateway: definition,
                log,
              });
            } catch (error) {
              measurement = failedMeasurement(error);
            } finally {
              await pool.closeAll();
            }
            measurements.set(`S7/${name}`, [measurement]);
            log(`${SCENARIO_TITLES.S7}: ${summary('S7', measurement)}`);
            continue;
          }
          if (!measuresScenario(definition, scenario)) continue;
          if (!target || options.restartPerScenario || !target.running) {
            await target?.stop(control, options.channel);
            target = await TargetProcess.start(definition, {
              redisUrl: redis.url,
              channel: options.channel,
              control,
              cpus: pinning.server,
              registry,
            });
          }
          let measurement: ScenarioMeasurement;
          try {
            measurement = await SCENARIOS[scenario].run({
              options,
              target,
              pool,
              redis,
              runId: `r${rep}-${scenario}`,
              clientCpus: pinning.client ? cpuList(pinning.client) : allCpus,
              serverCpus: pinning.server ? cpuList(pinning.server) : undefined,
              messages,
              jsonParseNs: parse.nsPerParse,
            });
          } catch (error) {
            measurement = failedMeasurement(error);
          } finally {
            await pool.closeAll();
          }
          if (!target.running) {
            measurement.problems.push(
              `the target exited; its last output:\n${target.recentOutput.slice(-2000)}`,
            );
          }
          const key = `${scenario}/${name}`;
          measurements.set(key, [...(measurements.get(key) ?? []), measurement]);
          log(
            `[rep ${rep}] ${SCENARIOS[scenario].title} · ${name}: ${summary(scenario, measurement)}`,
          );
        }
        await target?.stop(control, options.channel);
      }
    }
  } finally {
    await pool.stop();
    control.disconnect();
    await redis.stop();
    registry.killAll();
  }

  const cells: CellRecord[] = [];
  for (const scenario of options.scenarios) {
    for (const definition of definitions) {
      const name = definition.name;
      // S7 measures the gateway only.
      if (scenario === 'S7' && name !== 'gateway') continue;
      if (scenario !== 'S7' && !measuresScenario(definition, scenario)) continue;
      cells.push(cellRecord(scenario, name, measurements.get(`${scenario}/${name}`) ?? []));
    }
  }
  const record: RunRecord = {
    schema: 'task-status-gateway-bench/1',
    label: options.label,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: machineInfo(),
    loadAverage: { start: loadAtStart, end: loadAverage() },
    pinning,
    sizes: options.sizes,
    targets: options.targets.map((name) => ({
      name,
      description: targetDefinition(
        name,
        relative(process.cwd(), options.gatewayMain),
        connectionsNeeded,
      ).description,
      configuration: configurations.get(name),
    })),
    skipped: nchanNote(options),
    restartPerScenario: options.restartPerScenario,
    jsonParse: { nsPerParse: parseRuns, medianNsPerParse: median(parseRuns), messageBytes },
    cells,
  };

  await writeReports(record, options, startedAt);
  const problems = cells.reduce((sum, cell) => sum + cell.problems.length, 0);
  if (problems > 0) log(`${problems} problem(s); see the Problems section above`);
  return 0;
}

/** bench/results/<stamp>.{json,md,svg}, the table on stdout, and the docs when asked. */
async function writeReports(
  record: RunRecord,
  options: BenchOptions,
  startedAt: Date,
): Promise<void> {
  mkdirSync(options.resultsDir, { recursive: true });
  const stamp = startedAt
    .toISOString()
    .replaceAll(':', '-')
    .replace(/\.\d+Z$/, 'Z');
  const base = join(options.resultsDir, `${stamp}${record.label === 'smoke' ? '-smoke' : ''}`);
  // S1–S6 share one chart; S7 has its own (<stamp>-s7.svg), and an S7-only run only that.
  const svg = hasTargetScenarios(record) ? await renderChartSvg(record) : undefined;
  const fanOut = fanOutOf(record);
  const fanOutSvg = fanOut ? await renderFanOutChartSvg(record, fanOut) : undefined;
  writeFileSync(`${base}.json`, `${JSON.stringify(record, null, 2)}\n`);
  if (svg !== undefined) writeFileSync(`${base}.svg`, svg);
  if (fanOutSvg !== undefined) writeFileSync(`${base}-s7.svg`, fanOutSvg);
  const report = [
    `# Benchmark run ${stamp}`,
    describeRun(record, `${basename(base)}.json`),
    renderMarkdown(record, `${basename(base)}.svg`, `${basename(base)}-s7.svg`),
  ].join('\n\n');
  writeFileSync(`${base}.md`, `${report}\n`);
  log(`\n${renderMarkdown(record, undefined)}\n`);
  log(
    `wrote ${relative(process.cwd(), base)}.{json,md${svg ? ',svg' : ''}}` +
      (fanOutSvg ? ` and ${relative(process.cwd(), base)}-s7.svg` : ''),
  );
  if (options.writeDocs && svg !== undefined) {
    writeDocs(record, options.docsPath, options.chartPath, svg, `${base}.json`);
    log(
      `updated ${relative(process.cwd(), options.docsPath)} and ${relative(process.cwd(), options.chartPath)}`,
    );
  }
  if (options.writeDocs && fanOut && fanOutSvg !== undefined) {
    writeScalingDocs(
      record,
      fanOut,
      options.scalingDocsPath,
      options.scalingChartPath,
      fanOutSvg,
      `${base}.json`,
    );
    log(
      `updated ${relative(process.cwd(), options.scalingDocsPath)} and ${relative(process.cwd(), options.scalingChartPath)}`,
    );
  }
}

async function main(): Promise<number> {
  const options = parseBenchOptions(process.argv.slice(2), process.env);
  if (options === 'help') {
    log(helpText());
    return 0;
  }
  if (options.fromResults !== undefined) {
    const record = JSON.parse(readFileSync(options.fromResults, 'utf8')) as RunRecord;
    await writeReports(record, options, new Date(record.startedAt));
    return 0;
  }
  checkFileLimit(Math.max(maxConnections(options), fanOutConnections(options)) + 1_000);
  return run(options);
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`bench failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
