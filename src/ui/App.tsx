import { DatasetPanel } from './DatasetPanel';
import { DemoPanel } from './DemoPanel';
import { GpuAlert, GpuBadge } from './GpuBadge';
import { MethodPanel } from './MethodPanel';
import { ModelPanel } from './ModelPanel';
import { RunsPanel } from './RunsPanel';
import { TrainingPanel } from './TrainingPanel';
import { wantsDemo } from './demo';
import { Section } from './layout/Section';
import { useSetupSummaries } from './layout/useSetupSummaries';
import { IntruderView } from './study/IntruderView';
import { StudyResults } from './study/StudyResults';
import { StudySetup } from './study/StudySetup';
import { StudySummary } from './study/StudySummary';
import './layout/layout.css';

// The demo preselects model and data, so its first screen shows the setup as one-line summaries;
// a page opened with settings in its link (or ?nodemo) opens every section.
const OPEN_AT_START = !wantsDemo();

/**
 * The lab as one screen, as lab tools lay it out (TensorFlow Playground, W&B, TensorBoard): a
 * header with the GPU badge, the setup on the left (collapsible sections with one-line summaries)
 * and the runs with their charts on the right, each column scrolling on its own so the results
 * stay in view while settings change. Below 900 px wide the columns stack.
 */
export function App() {
  const summary = useSetupSummaries();
  return (
    <div className="app">
      <header className="app-header">
        <h1>Rankscope</h1>
        <p className="app-tagline muted">Fine-tune vision models in your browser: LoRA, RandLoRA, NOLA, VeRA, full fine-tuning, linear probe.</p>
        <GpuBadge />
      </header>
      <GpuAlert />
      <main className="lab">
        <aside className="setup-column" aria-label="Setup">
          <DemoPanel />
          <Section id="model" title="Model" summary={summary.model} defaultOpen={OPEN_AT_START}>
            <ModelPanel />
          </Section>
          <Section id="data" title="Data" summary={summary.data} defaultOpen={OPEN_AT_START}>
            <DatasetPanel />
          </Section>
          <Section id="method" title="Method" summary={summary.method} defaultOpen={OPEN_AT_START}>
            <MethodPanel />
          </Section>
          <Section id="training" title="Training" summary={summary.training} defaultOpen={OPEN_AT_START}>
            <TrainingPanel />
          </Section>
          <Section id="study" title="Study" summary={<StudySummary />} defaultOpen={false}>
            <StudySetup />
          </Section>
        </aside>
        <div className="results-column" role="region" aria-label="Results">
          <RunsPanel />
          <StudyResults />
          <IntruderView />
        </div>
      </main>
    </div>
  );
}
