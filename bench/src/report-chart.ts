import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { ScenarioId } from './bench-options.js';
import { METRICS, formatNumber } from './report-markdown.js';
import type { RunRecord } from './run-record.js';

const COLORS: Record<string, string> = {
  gateway: '#1f77b4',
  'gateway-sse': '#17becf',
  'bare-relay': '#7f7f7f',
  socketio: '#ff7f0e',
  nchan: '#9467bd',
  'one JSON.parse': '#2ca02c',
};

interface Bar {
  panel: string;
  order: number;
  target: string;
  value: number;
  label: string;
}

/**
 * One small bar chart per headline figure (medians, one bar per target, each panel on its own
 * scale), drawn by Vega-Lite and rendered to SVG by Vega's headless view: no canvas, no browser.
 */
export async function renderChartSvg(run: RunRecord): Promise<string> {
  const bars: Bar[] = [];
  let order = 0;
  for (const scenario of Object.keys(METRICS) as ScenarioId[]) {
    for (const metric of METRICS[scenario]) {
      if (metric.chart === undefined) continue;
      const panel = `${metric.chart} ${metric.better === 'higher' ? '↑' : '↓'}`;
      let any = false;
      for (const cell of run.cells.filter((c) => c.scenario === scenario)) {
        const value = cell.median[metric.key];
        if (value === undefined || !Number.isFinite(value)) continue;
        bars.push({ panel, order, target: cell.target, value, label: formatNumber(value) });
        any = true;
      }
      if (any && scenario === 'S5' && metric.key === 'cpuPerUpdateUs') {
        const value = run.jsonParse.medianNsPerParse / 1000;
        bars.push({ panel, order, target: 'one JSON.parse', value, label: formatNumber(value) });
      }
      if (any) order += 1;
    }
  }
  const targets = [...new Set(bars.map((bar) => bar.target))];
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: `Task-status gateway benchmark (${run.label} run, ${run.startedAt.slice(0, 10)})`,
      subtitle: [
        `medians of ${run.sizes.reps} repetition(s) on ${run.machine.cpus} CPUs (${run.machine.cpuModel}); ` +
          `load average at start ${run.loadAverage.start[0]}`,
        run.pinning.note,
      ],
    },
    data: { values: bars },
    columns: 3,
    facet: {
      field: 'panel',
      type: 'nominal',
      sort: { field: 'order', op: 'min' },
      header: { title: null, labelFontSize: 12, labelFontWeight: 'bold', labelLimit: 0 },
    },
    spec: {
      width: 200,
      height: 120,
      encoding: {
        x: { field: 'target', type: 'nominal', sort: targets, axis: null },
        y: { field: 'value', type: 'quantitative', axis: { title: null, format: ',~r' } },
      },
      layer: [
        {
          mark: 'bar',
          encoding: {
            color: {
              field: 'target',
              type: 'nominal',
              scale: { domain: targets, range: targets.map((t) => COLORS[t] ?? '#999999') },
              legend: { title: null, orient: 'top', direction: 'horizontal' },
            },
          },
        },
        {
          mark: { type: 'text', baseline: 'bottom', dy: -2, fontSize: 10 },
          encoding: { text: { field: 'label', type: 'nominal' } },
        },
      ],
    },
    resolve: { scale: { x: 'independent', y: 'independent' } },
  };
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  return view.toSVG();
}
