import { useState } from 'react';
import { Bar, BarChart, CartesianGrid, Cell, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { EnsembleOutcome } from '../../session/combineTypes';
import { SHOWN_DISAGREEMENTS, SHOWN_FIRST } from '../../session/ensembleImages';
import { CHART_HEIGHT } from '../charts/MetricCharts';
import { formatNumber } from '../charts/series';
import { Thumb } from '../data/Thumb';
import type { CombineView } from './combineStore';
import { AccuracyTable } from './AccuracyTable';
import { ImageStrip } from './ImageStrip';
import { ensembleRows, firstImage, imageStrip, nextDisagreement, temperatureBars } from './tables';

/** CSS pixels of the chosen image's longer side: thumbnails are at most 64 pixels, drawn pixelated. */
const CHOSEN_SIZE = 192;

/**
 * An ensemble's accuracy against its baselines, and the temperatures its controller gave one chosen
 * validation image: picked from a strip of the thumbnails the ensemble kept, or by index when it
 * kept none (archived before it did).
 */
export function EnsembleView({ view, outcome }: { view: CombineView; outcome: EnsembleOutcome }) {
  const [index, setIndex] = useState(() => firstImage(outcome));
  const N = outcome.perImage.labels.length;
  const strip = imageStrip(outcome);
  const chosen = strip.find((s) => s.row === index);
  const bars = temperatureBars(outcome, index);
  const label = outcome.perImage.labels[index];
  const ensemblePred = outcome.perImage.ensemblePredictions[index];
  const name = (k: number) => outcome.classNames[k] ?? String(k);
  const colorOf = (runId: string) => view.members.find((m) => m.runId === runId)?.color ?? '#6b7a8f';
  return (
    <div className="combine-view" data-testid="ensemble-view">
      <p className="explain">
        On the {outcome.valImages} validation images the runs were scored on. The controller trained on {outcome.trainImages} training images
        {outcome.kShot ? ` (${outcome.kShot} per class)` : ''} for {outcome.losses.length} steps (loss {formatNumber(outcome.losses[0] ?? NaN)} →{' '}
        {formatNumber(outcome.losses[outcome.losses.length - 1] ?? NaN)}).
      </p>
      <AccuracyTable rows={ensembleRows(outcome)} testId="ensemble-accuracy" highlight="ensemble" />
      <figure className="chart" data-testid="temperature-chart">
        <figcaption>
          <h3>Temperatures for one image</h3>
          <p className="explain">
            Each run's logits are divided by its temperature before they are summed: a lower temperature is a louder voice.{' '}
            {strip.length
              ? `Pick a validation image: the first ${Math.min(SHOWN_FIRST, N)} of the ${N}, then those where the runs predict different classes (marked ≠, up to ${SHOWN_DISAGREEMENTS} more); a red corner means the ensemble got it wrong.`
              : 'Pick a validation image by its index; "next disagreement" jumps to one where the runs predict different classes.'}
          </p>
          {strip.length ? (
            <ImageStrip strip={strip} chosen={index} onChoose={setIndex} classLabel={name} />
          ) : (
            <>
              <p className="muted" data-testid="ensemble-no-thumbnails">
                This ensemble was made before the page kept pictures of the validation images with it, so images are picked by index. Ensemble the runs
                again to see them.
              </p>
              <div className="inline-field">
                <label>
                  Validation image{' '}
                  <input type="number" min={0} max={N - 1} value={index} onChange={(e) => setIndex(Math.min(N - 1, Math.max(0, Math.floor(Number(e.target.value) || 0))))} data-testid="ensemble-image" />
                </label>{' '}
                of {N}{' '}
                <button type="button" onClick={() => setIndex(Math.max(0, nextDisagreement(outcome, index)))} data-testid="ensemble-next-disagreement">
                  Next disagreement
                </button>
              </div>
            </>
          )}
          <div className="ensemble-chosen" data-testid="ensemble-chosen" data-row={index}>
            {chosen && <Thumb {...chosen.thumbnail} size={CHOSEN_SIZE} title={`Validation image ${index + 1}: ${name(label)}`} testId="ensemble-chosen-image" />}
            <p data-testid="ensemble-image-summary">
              Validation image {index + 1} of {N}. True class <strong>{name(label)}</strong>; the ensemble says <strong>{name(ensemblePred)}</strong> (
              {ensemblePred === label ? 'right' : 'wrong'}){chosen?.disagree ? '; the runs disagree' : ''}.
            </p>
          </div>
        </figcaption>
        <div className="chart-body">
          <ResponsiveContainer width="100%" height={CHART_HEIGHT}>
            <BarChart data={bars} margin={{ top: 8, right: 16, bottom: 8, left: 8 }}>
              <CartesianGrid strokeDasharray="3 3" />
              <XAxis dataKey="name" tick={{ fontSize: 11 }} interval={0} />
              <YAxis tick={{ fontSize: 12 }} label={{ value: 'temperature', angle: -90, position: 'insideLeft', fontSize: 12 }} />
              <Tooltip formatter={(v) => formatNumber(Number(v))} />
              <Bar dataKey="temperature" isAnimationActive={false}>
                {bars.map((b, i) => (
                  <Cell key={b.name} fill={colorOf(outcome.members[i].runId)} />
                ))}
              </Bar>
            </BarChart>
          </ResponsiveContainer>
          <table className="data-table" data-testid="temperature-table">
            <thead>
              <tr>
                <th>Run</th>
                <th>Temperature</th>
                <th>Weight 1/T</th>
                <th>Predicts</th>
              </tr>
            </thead>
            <tbody>
              {bars.map((b) => (
                <tr key={b.name} data-testid="temperature-row" data-value={b.temperature}>
                  <td>{b.name}</td>
                  <td>{formatNumber(b.temperature)}</td>
                  <td>{formatNumber(1 / b.temperature)}</td>
                  <td>
                    {name(b.predicted)} {b.correct ? '✓' : '✗'}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </figure>
    </div>
  );
}
