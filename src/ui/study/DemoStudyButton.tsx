import { useState } from 'react';
import { applyDemoSettings } from '../demo';
import { DEMO_STUDY, DEMO_STUDY_TITLE } from './preset';
import { loadedCounts, planOnLoaded, startStudy } from './startStudy';

/** The demo's one-click study (see preset.ts): plans it on the demo model and data and queues every run. */
export function DemoStudyButton({ ready }: { ready: boolean }) {
  const [error, setError] = useState<string>();
  const [queued, setQueued] = useState<number>();
  const run = async () => {
    setError(undefined);
    try {
      applyDemoSettings();
      const study = planOnLoaded(DEMO_STUDY, await loadedCounts());
      setQueued(await startStudy(study));
      document.getElementById('runs-panel-title')?.scrollIntoView({ behavior: 'smooth', block: 'start' });
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  return (
    <div className="demo-study">
      <button type="button" className="demo-button" data-testid="demo-study" disabled={!ready} onClick={() => void run()}>
        Study: {DEMO_STUDY_TITLE}
      </button>
      {queued !== undefined && (
        <span className="muted" data-testid="demo-study-queued">
          {' '}
          Queued {queued} runs ({DEMO_STUDY.seeds.length} seeds each, full fine-tuning and the probe as references); the results fill in under Study as they finish.
        </span>
      )}
      {error && (
        <p className="notice notice-error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
