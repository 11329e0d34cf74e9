/**
 * aTLAS composition of finished runs inside the lab (the page's "Compose these runs"): the base is
 * the lab's loaded model, each member's task vector comes from the merged zip its run exported,
 * the target is k images per class of the lab's training split (seeded), and everything is scored
 * on the lab's whole validation split. The estimate is checked against the page's limit first.
 */
import type { Checkpoint } from '../io/checkpoint';
import { zipFiles } from '../io/peft';
import { ZERO_SHOT_HEAD } from '../io/peft/layout';
import { composeExportFiles, composeRuns, estimateCompose, type ComposeEstimate, type ComposeMember } from './compose';
import { mergedCheckpoint, slug } from './ensembleRuns';
import { withKShot } from './kShotData';
import type { LabInputs } from './lab';
import type { CombineMember, CombineProgress } from './combineTypes';
import type { ComposeOutcome, ComposeRequest } from './composeTypes';
import { MERGED_EXPORT_LIMIT } from './run';
import { HEAD_MODULE } from '../models/names';

/** Members' checkpoints by run, so the estimate (asked again at each settings change) reads each zip once. */
const parsed = new Map<string, { bytes: Uint8Array; ckpt: Checkpoint; fingerprint: string }>();

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes.slice().buffer);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

async function composeMembers(members: readonly CombineMember[]): Promise<ComposeMember[]> {
  const out: ComposeMember[] = [];
  for (const m of members) {
    let hit = parsed.get(m.runId);
    if (!hit || hit.bytes.byteLength !== m.merged.byteLength) {
      hit = { bytes: m.merged, ckpt: await mergedCheckpoint(m), fingerprint: `sha256:${await sha256(m.merged)} (merged model zip)` };
      parsed.set(m.runId, hit);
    }
    out.push({ name: m.name, checkpoint: hit.ckpt, fingerprint: hit.fingerprint, accuracy: m.accuracy, method: m.method });
  }
  // Only the runs asked about now stay parsed.
  for (const id of [...parsed.keys()]) if (!members.some((m) => m.runId === id)) parsed.delete(id);
  return out;
}

export async function composeEstimateOnLab(base: Checkpoint, req: ComposeRequest): Promise<ComposeEstimate> {
  return estimateCompose(base, await composeMembers(req.members), req.settings, req.limitBytes);
}

const PHASE: Record<string, string> = { compose: 'Learning the coefficients', base: 'Training the base model’s head', sum: 'Training the plain sum’s head', members: 'Scoring each run' };

export async function composeOnLab(lab: LabInputs, req: ComposeRequest, onProgress: (p: CombineProgress) => void = () => {}): Promise<ComposeOutcome> {
  const members = await composeMembers(req.members);
  const estimate = estimateCompose(lab.ckpt, members, req.settings, req.limitBytes);
  if (!estimate.fits) throw new Error(estimate.message ?? `Composing needs about ${estimate.totalBytes} bytes of GPU memory but ${estimate.limitBytes} are allowed: drop a run.`);
  const data = req.kShot ? withKShot(lab.data, { k: req.kShot, seed: req.settings.seed }) : lab.data;
  const steps = req.settings.steps;
  const result = await composeRuns(lab.ctx, lab.ckpt, members, data, req.settings, {
    onProgress: (p) =>
      onProgress({
        phase: p.phase === 'members' ? 'evaluating' : 'training',
        message: `${PHASE[p.phase ?? 'compose'] ?? 'Composing'}: step ${p.step} of ${steps}`,
        step: p.step,
        total: steps,
        loss: p.loss,
        valAccuracy: p.valAccuracy,
      }),
  });
  const files = composeExportFiles(lab.ckpt, result, { baseModel: lab.baseModel, labels: data.classNames, members });
  let params = 0;
  for (const t of result.merged.values()) params += t.length;
  const lambdas = result.coefficients.values.reduce((s, t) => s + t.length * result.coefficients.groups, 0);
  // The head counts when it trained: a new linear one (weight and bias) or a zero-shot one trained from there (weight only).
  const head = req.settings.head ?? 'linear';
  const headParams =
    head === 'zeroshot' ? 0 : head === 'zeroshot-init' ? (result.merged.get(ZERO_SHOT_HEAD)?.length ?? 0) : (result.merged.get(`${HEAD_MODULE}.weight`)?.length ?? 0) + (result.merged.get(`${HEAD_MODULE}.bias`)?.length ?? 0);
  return {
    finalValAccuracy: result.finalValAccuracy,
    baseAccuracy: result.baseAccuracy,
    sumAccuracy: result.sumAccuracy,
    members: result.members.map((m, i) => ({ ...m, runId: req.members[i]?.runId })),
    coefficients: result.coefficients,
    curve: result.curve,
    estimate,
    trainImages: data.trainIndices.length,
    valImages: data.valIndices.length,
    kShot: req.kShot ?? null,
    classNames: data.classNames,
    seconds: result.seconds,
    trainableParams: lambdas + headParams,
    head,
    composition: files.composition,
    merged: params <= MERGED_EXPORT_LIMIT ? zipFiles(files.merged, `${slug(lab.baseModel)}-composed`) : undefined,
  };
}
