import { DatasetPanel } from './DatasetPanel';
import { DemoPanel } from './DemoPanel';
import { GpuPanel } from './GpuPanel';
import { MethodPanel } from './MethodPanel';
import { ModelPanel } from './ModelPanel';
import { RunsPanel } from './RunsPanel';

/** The page: a header and one panel per concern, in the order a person uses them. */
export function App() {
  return (
    <div className="app">
      <header className="app-header">
        <h1>Rankscope</h1>
        <p className="muted">
          Fine-tune vision models in your browser with LoRA, RandLoRA, NOLA, VeRA, full fine-tuning or a linear probe,
          on your own GPU through WebGPU.
        </p>
      </header>
      <main className="panels">
        <DemoPanel />
        <GpuPanel />
        <ModelPanel />
        <DatasetPanel />
        <MethodPanel />
        <RunsPanel />
      </main>
    </div>
  );
}
