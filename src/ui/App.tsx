import { GpuPanel } from './GpuPanel';

/** The page: a header and one panel per concern. Dataset, method and run panels come next. */
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
        <GpuPanel />
      </main>
    </div>
  );
}
