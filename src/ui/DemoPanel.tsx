import { useEffect, useState } from 'react';
import { applyDemoSettings, DEMO, demoLoaded, preselectDemo, wantsDemo } from './demo';
import { useDataStore } from './state/dataStore';
import { useMethodStore } from './state/methodStore';
import { useModelStore } from './state/modelStore';
import { comparisonSpecs } from './runs/specs';
import { queueRuns } from './runs/useRuns';
import { DemoStudyButton } from './study/DemoStudyButton';

/**
 * The first thing a person sees: one button that runs LoRA, RandLoRA and full fine-tuning on a
 * model and data set shipped with the app, so the point of the product shows without a network.
 */
export function DemoPanel() {
  const model = useModelStore((s) => s.info);
  const data = useDataStore((s) => s.info);
  const [error, setError] = useState<string>();
  const [queued, setQueued] = useState(false);

  useEffect(() => {
    if (wantsDemo()) preselectDemo();
  }, []);

  const ready = !!model && !!data && demoLoaded();
  const run = async () => {
    setError(undefined);
    try {
      applyDemoSettings();
      const settings = useMethodStore.getState();
      const specs = comparisonSpecs(settings, { model: model! });
      await queueRuns(specs, { model: model!.source, dataset: data!.source });
      setQueued(true);
      // Side by side the results are already in view; stacked (narrow screens) they are below the setup.
      document.getElementById('runs-panel-title')?.scrollIntoView({ behavior: 'smooth', block: 'start' });
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };

  return (
    <section className="panel demo-panel" aria-labelledby="demo-panel-title" data-testid="demo-panel">
      <h2 id="demo-panel-title">Is it the parameter count or the rank?</h2>
      <p className="demo-lead">
        LoRA trains a low-rank update; RandLoRA trains about as few values, but its update is full rank. One click compares them with full
        fine-tuning, offline.
      </p>
      <details className="demo-more">
        <summary>What the demo does</summary>
        <p>
          It fine-tunes a small ViT that Rankscope pretrained on five Fashion-MNIST classes, on the five classes it never saw (40 images
          each), with LoRA, RandLoRA and full fine-tuning side by side. Watch the accuracy gap and the rank chart: LoRA&rsquo;s spectrum
          stops at r, RandLoRA&rsquo;s stays full like full fine-tuning&rsquo;s.
        </p>
        <p className="muted">
          Model and data ship with the app, so this works offline. {DEMO.train.steps} steps of batch {DEMO.train.batchSize} per run, all
          attention and MLP layers targeted; every setting stays editable in the sections below.
        </p>
      </details>
      <button type="button" className="demo-button" data-testid="demo-run" disabled={!ready} onClick={() => void run()}>
        Run the demo: LoRA vs RandLoRA vs full fine-tuning
      </button>
      {!ready && (
        <span className="muted" data-testid="demo-waiting">
          {' '}
          {model && data ? 'Load the demo model and data set to use this button (reload without a model in the link).' : 'Loading the demo model and data set…'}
        </span>
      )}
      {queued && (
        <span className="muted" data-testid="demo-queued">
          {' '}
          Queued: the runs train one after another; follow them under Runs.
        </span>
      )}
      {error && (
        <p className="notice notice-error" role="alert">
          {error}
        </p>
      )}
      <DemoStudyButton ready={ready} />
    </section>
  );
}
