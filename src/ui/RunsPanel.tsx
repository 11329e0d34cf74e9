import { useEffect, useMemo, useState } from 'react';
import { AccuracyChart, ChartCard, LossChart, ThroughputChart, legendOf } from './charts/MetricCharts';
import { RankChart } from './charts/RankChart';
import { ClassBreakdown, ComparisonTable } from './charts/Results';
import { QueueControls } from './runs/QueueControls';
import { RunList } from './runs/RunList';
import { RunFileBar } from './runs/RunFileBar';
import { installTestHook } from './runs/testHook';
import { useRunEvents } from './runs/useRuns';
import { useRunStore } from './state/runStore';
import { CombinePanel } from './combine/CombinePanel';
import { CombinedComparisonRows, CombinedResults, CombinedRunList } from './combine/CombinedRuns';
import { useCombineArchive } from './combine/useCombine';
import './runs/runs.css';
import './combine/combine.css';

/** Queue runs, follow them live, and compare them once they finish. */
export function RunsPanel() {
  useRunEvents();
  useCombineArchive();
  useEffect(installTestHook, []);
  const order = useRunStore((s) => s.order);
  const byId = useRunStore((s) => s.runs);
  const archiveError = useRunStore((s) => s.archiveError);
  const setArchiveError = useRunStore((s) => s.setArchiveError);
  const runs = useMemo(() => order.map((id) => byId[id]).filter(Boolean), [order, byId]);
  const [smoothing, setSmoothing] = useState(0.6);
  const charted = runs.filter((r) => r.train.length || r.evals.length || r.spectra.length);

  const legend = legendOf(charted);

  return (
    <section className="panel runs-panel" aria-labelledby="runs-panel-title" data-testid="runs-panel">
      <div className="runs-layout">
        <div className="runs-rail">
          <h2 id="runs-panel-title">Runs</h2>
          {archiveError && (
            <div className="notice notice-warn" role="status" data-testid="archive-error">
              <p>{archiveError}</p>
              <button type="button" onClick={() => setArchiveError(undefined)}>
                Dismiss
              </button>
            </div>
          )}
          <RunList runs={runs} />
          <CombinedRunList />
          <CombinePanel runs={runs} />
          <RunFileBar runs={runs} />
          <h3>Queue runs</h3>
          <QueueControls />
        </div>
        <div className="charts" data-testid="charts" role="group" aria-label="Charts">
          <ChartCard
            title="Training loss"
            testId="loss-chart"
            explain="Cross-entropy on each training batch, lower is better: the bold line is smoothed (exponential moving average), the faint one behind it is the raw value."
            download={{ file: 'training-loss', legend }}
            extra={
              <label className="inline-field smoothing">
                Smoothing{' '}
                <input
                  type="range"
                  min={0}
                  max={0.95}
                  step={0.05}
                  value={smoothing}
                  onChange={(e) => setSmoothing(Number(e.target.value))}
                  data-testid="smoothing"
                  aria-label="Loss smoothing"
                />{' '}
                <output data-testid="smoothing-value">{smoothing.toFixed(2)}</output>
              </label>
            }
          >
            {charted.length > 0 ? (
              <LossChart runs={charted} smoothing={smoothing} />
            ) : (
              <p className="muted chart-empty" data-testid="loss-pending">
                {runs.length ? 'The first loss values draw here once a run has trained a few steps.' : 'Queue a run (or run the demo) and its training loss draws here, live.'}
              </p>
            )}
          </ChartCard>
          {charted.length > 0 && (
            <>
              <ChartCard
                title="Validation accuracy"
                testId="accuracy-chart"
                download={{ file: 'validation-accuracy', legend }}
                explain="Share of held-out validation images classified correctly at each evaluation; higher is better, and every run is scored on the same images."
              >
                {charted.some((r) => r.evals.length) ? (
                  <AccuracyChart runs={charted} />
                ) : (
                  <p className="muted chart-empty" data-testid="accuracy-pending">
                    No evaluation yet: runs are scored on the validation images every few steps (the training panel's "Evaluate every") and at the end.
                  </p>
                )}
              </ChartCard>
              <ChartCard
                title="Images per second"
                testId="throughput-chart"
                download={{ file: 'images-per-second', legend }}
                explain="Training throughput between two logged steps: how fast each method trains on this GPU (methods with more trainable values or bigger random bases are slower)."
              >
                <ThroughputChart runs={charted} />
              </ChartCard>
              <RankChart runs={charted} />
            </>
          )}
        </div>
      </div>
      <ComparisonTable runs={runs} extraRows={<CombinedComparisonRows />} />
      <CombinedResults />
      <ClassBreakdown runs={runs} />
    </section>
  );
}
