import { useMemo, useRef, type ReactNode } from 'react';
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis, ReferenceLine } from 'recharts';
import type { RunView } from '../state/runStore';
import { ChartDownloads } from './ChartDownloads';
import type { LegendEntry } from './chartExport';
import { ema, formatNumber, formatPercent, mergeSeries, seriesKey, type Point } from './series';

export const CHART_HEIGHT = 240;

/** A chart with its title and the one sentence that says how to read it; PNG and SVG downloads when `download` names the file. */
export function ChartCard({
  title,
  explain,
  testId,
  children,
  extra,
  download,
}: {
  title: string;
  explain: ReactNode;
  testId: string;
  children: ReactNode;
  extra?: ReactNode;
  download?: { file: string; legend: readonly LegendEntry[] };
}) {
  const body = useRef<HTMLDivElement>(null);
  return (
    <figure className="chart" data-testid={testId}>
      <figcaption>
        <div className="chart-title-row">
          <h3>{title}</h3>
          {download && <ChartDownloads target={body} title={title} file={download.file} legend={download.legend} />}
        </div>
        <p className="explain">{explain}</p>
        {extra}
      </figcaption>
      <div className="chart-body" ref={body}>
        {children}
      </div>
    </figure>
  );
}

/** The legend a downloaded chart carries: each run's name in its colour. */
export function legendOf(runs: readonly RunView[]): LegendEntry[] {
  return runs.map((r) => ({ name: r.spec.name, color: r.color }));
}

const axisStyle = { fontSize: 12 };

function tooltipValue(format: (v: number) => string) {
  return (value: unknown, name: unknown): [ReactNode, ReactNode] => [typeof value === 'number' ? format(value) : String(value ?? '—'), String(name)];
}

const stepLabel = (label: ReactNode) => `step ${String(label)}`;

/** Training loss per run: the smoothed line, with the raw line faint behind it. */
export function LossChart({ runs, smoothing }: { runs: RunView[]; smoothing: number }) {
  const rows = useMemo(
    () =>
      mergeSeries(
        runs.flatMap((run, i) => {
          const raw: Point[] = run.train.map((m) => ({ x: m.step, y: m.loss }));
          const smooth = ema(
            raw.map((p) => p.y),
            smoothing,
          );
          return [
            { key: seriesKey(i, 'raw'), points: raw },
            { key: seriesKey(i), points: raw.map((p, j) => ({ x: p.x, y: smooth[j] })) },
          ];
        }),
      ),
    [runs, smoothing],
  );
  return (
    <ResponsiveContainer width="100%" height={CHART_HEIGHT}>
      <LineChart data={rows} margin={{ top: 8, right: 16, bottom: 4, left: 0 }}>
        <CartesianGrid strokeDasharray="3 3" strokeOpacity={0.4} />
        <XAxis dataKey="x" type="number" domain={[0, 'dataMax']} allowDecimals={false} tick={axisStyle} label={{ value: 'step', position: 'insideBottomRight', offset: -2, fontSize: 12 }} />
        <YAxis tick={axisStyle} width={48} tickFormatter={(v: number) => formatNumber(v, 3)} domain={['auto', 'auto']} />
        <Tooltip formatter={tooltipValue((v) => formatNumber(v, 4))} labelFormatter={stepLabel} />
        <Legend itemSorter={null} />
        {runs.map((run, i) => (
          <Line
            key={`${run.spec.id}-raw`}
            dataKey={seriesKey(i, 'raw')}
            name={`${run.spec.name} (raw)`}
            stroke={run.color}
            strokeOpacity={0.35}
            dot={false}
            legendType="none"
            connectNulls
            isAnimationActive={false}
            className="run-line-raw"
          />
        ))}
        {runs.map((run, i) => (
          <Line
            key={run.spec.id}
            dataKey={seriesKey(i)}
            name={run.spec.name}
            stroke={run.color}
            strokeWidth={2}
            dot={false}
            connectNulls
            isAnimationActive={false}
            className="run-line"
          />
        ))}
      </LineChart>
    </ResponsiveContainer>
  );
}

/** One value per logged step and run, as lines with dots (validation accuracy, images per second). */
export function StepChart({
  runs,
  points,
  format,
  domain,
  dots,
  references,
}: {
  runs: RunView[];
  points: (run: RunView) => Point[];
  format: (v: number) => string;
  domain?: [number | 'auto', number | 'auto'];
  dots?: boolean;
  /** Horizontal lines across the chart (a zero-shot run's accuracy), in the run's colour. */
  references?: Array<{ y: number; color: string; name: string }>;
}) {
  const rows = useMemo(() => mergeSeries(runs.map((run, i) => ({ key: seriesKey(i), points: points(run) }))), [runs, points]);
  return (
    <ResponsiveContainer width="100%" height={CHART_HEIGHT}>
      <LineChart data={rows} margin={{ top: 8, right: 16, bottom: 4, left: 0 }}>
        <CartesianGrid strokeDasharray="3 3" strokeOpacity={0.4} />
        <XAxis dataKey="x" type="number" domain={[0, 'dataMax']} allowDecimals={false} tick={axisStyle} label={{ value: 'step', position: 'insideBottomRight', offset: -2, fontSize: 12 }} />
        <YAxis tick={axisStyle} width={48} tickFormatter={format} domain={domain ?? ['auto', 'auto']} />
        <Tooltip formatter={tooltipValue(format)} labelFormatter={stepLabel} />
        <Legend itemSorter={null} />
        {references?.map((r) => (
          <ReferenceLine key={r.name} y={r.y} stroke={r.color} strokeDasharray="6 4" strokeWidth={2} label={{ value: `${r.name} ${format(r.y)}`, position: 'insideTopLeft', fontSize: 11, fill: r.color }} className="reference-line" />
        ))}
        {runs.map((run, i) => (
          <Line
            key={run.spec.id}
            dataKey={seriesKey(i)}
            name={run.spec.name}
            stroke={run.color}
            strokeWidth={2}
            dot={dots ? { r: 3 } : false}
            connectNulls
            isAnimationActive={false}
            className="run-line"
          />
        ))}
      </LineChart>
    </ResponsiveContainer>
  );
}

const accuracyPoints = (run: RunView): Point[] => run.evals.map((m) => ({ x: m.step, y: m.val_accuracy }));
const throughputPoints = (run: RunView): Point[] => run.train.map((m) => ({ x: m.step, y: m.images_per_second }));

/** A run with no training steps (a zero-shot run): its accuracy is a level to read the others against, not a curve. */
export function isReferenceRun(run: RunView): boolean {
  return run.spec.train.steps === 0 && run.evals.length > 0;
}

export function AccuracyChart({ runs }: { runs: RunView[] }) {
  const references = runs.filter(isReferenceRun).map((r) => ({ y: r.evals[r.evals.length - 1].val_accuracy, color: r.color, name: r.spec.name }));
  return <StepChart runs={runs.filter((r) => !isReferenceRun(r))} points={accuracyPoints} format={(v) => formatPercent(v)} domain={[0, 1]} dots references={references} />;
}

export function ThroughputChart({ runs }: { runs: RunView[] }) {
  return <StepChart runs={runs} points={throughputPoints} format={(v) => formatNumber(v, 3)} domain={[0, 'auto']} />;
}
