import { useMemo, useState } from 'react';
import { countIntruders } from '../../train/intruders';
import { useRunStore } from '../state/runStore';
import { runIntruders, totalIntruders } from './pageStudy';
import { useRunFocus, useStudyStore } from './studyStore';

/**
 * Intruder dimensions (Shuttleworth et al., arXiv 2410.21228) of every finished run that measured
 * them, per run and per layer. ε is adjustable: each run stored, per layer, the best |cosine| of
 * every top singular vector of W0+ΔW with W0's, so a new ε recounts without another SVD.
 */
export function IntruderView() {
  const order = useRunStore((s) => s.order);
  const byId = useRunStore((s) => s.runs);
  const eps = useStudyStore((s) => s.eps);
  const setEps = useStudyStore((s) => s.setEps);
  const focus = useRunFocus((s) => s.focus);
  const runs = useMemo(() => order.map((id) => byId[id]).filter((r) => r && runIntruders(r)?.length), [order, byId]);
  const [choice, setChoice] = useState('');
  if (!runs.length) return null;
  const run = runs.find((r) => r.spec.id === choice) ?? runs[0];
  const layers = runIntruders(run) ?? [];
  return (
    <section className="results intruders" data-testid="intruders">
      <h3>Intruder dimensions</h3>
      <p className="explain">
        For each targeted layer, the top {layers[0]?.k ?? 10} left singular vectors of the fine-tuned weight W0+ΔW, and for each its largest |cosine|
        with any left singular vector of the pretrained W0: below ε it is a new direction, an &ldquo;intruder&rdquo;. The paper&rsquo;s claim to look
        for: LoRA grows intruders where full fine-tuning does not.
      </p>
      <label className="inline-field">
        ε{' '}
        <input type="range" min={0.05} max={0.95} step={0.05} value={eps} onChange={(e) => setEps(Number(e.target.value))} data-testid="intruder-eps" aria-label="Intruder threshold ε" />{' '}
        <output data-testid="intruder-eps-value">{eps.toFixed(2)}</output>
      </label>
      <div className="table-scroll">
        <table className="data-table" data-testid="intruder-runs">
          <thead>
            <tr>
              <th>Run</th>
              <th>Layers</th>
              <th>Intruders at ε (all layers)</th>
            </tr>
          </thead>
          <tbody>
            {runs.map((r) => (
              <tr
                key={r.spec.id}
                className={r === run ? 'selected clickable' : 'clickable'}
                onClick={() => {
                  setChoice(r.spec.id);
                  focus([r.spec.id]);
                }}
                data-testid="intruder-run"
                data-run-id={r.spec.id}
              >
                <td>
                  <span className="swatch" style={{ background: r.color }} aria-hidden="true" /> {r.spec.name}
                </td>
                <td>{runIntruders(r)?.length}</td>
                <td data-testid="intruder-run-total">{totalIntruders(runIntruders(r), eps)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h4>Per layer: {run.spec.name}</h4>
      <div className="table-scroll">
        <table className="data-table" data-testid="intruder-layers">
          <thead>
            <tr>
              <th>Layer</th>
              <th>Intruders at ε</th>
              <th>Best |cos| of each top singular vector</th>
            </tr>
          </thead>
          <tbody>
            {layers.map((l) => (
              <tr key={l.module} data-testid="intruder-layer">
                <td>{l.module}</td>
                <td data-testid="intruder-layer-count">{countIntruders(l, eps)}</td>
                <td className="cosines">
                  {l.topCosines.map((c, i) => (
                    <span key={i} className={c < eps ? 'cos intruder' : 'cos'} title={`singular vector ${i + 1}: best |cos| ${c.toFixed(3)}`}>
                      {c.toFixed(2)}
                    </span>
                  ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
