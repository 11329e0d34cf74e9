/**
 * Adaptive ensembling of finished runs inside the lab (the page's "Ensemble these runs"): each
 * member is built from its run's merged checkpoint (the zip the run exported) and reads the
 * features and logits of the lab's images once (`memberOutputs`); the controller then trains on
 * the CPU on the training split (or k per class of it) and everything is scored on the whole
 * validation split, the same images the runs were scored on.
 */
import { unzipSync } from 'fflate';
import { loadCheckpoint, type Checkpoint } from '../io/checkpoint';
import { ZipSource } from '../io/datasets/zip';
import { zipFiles } from '../io/peft';
import { ensembleReport, type CachedMember } from '../ensemble/report';
import { ensembleFiles } from './ensembleFiles';
import { ensembleThumbnails, shownRows } from './ensembleImages';
import { memberOutputs } from './ensembleMember';
import { withKShot } from './kShotData';
import type { LabInputs } from './lab';
import type { CombineMember, CombineProgress, EnsembleOutcome, EnsembleRequest } from './combineTypes';

/** A member's merged checkpoint from its zip, or an error naming the run and what to do. */
export async function mergedCheckpoint(m: CombineMember): Promise<Checkpoint> {
  if (!m.merged?.byteLength) throw new Error(`"${m.name}" has no merged model kept with it, so it cannot take part. Run it again (its merged export is made when it finishes).`);
  try {
    return await loadCheckpoint(new ZipSource(m.merged, `${m.name} (merged model)`));
  } catch (e) {
    throw new Error(`"${m.name}": its merged model could not be read (${(e as Error).message}). Run it again, or leave it out.`);
  }
}

/** A folder name for a run inside a download. */
export function slug(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '').toLowerCase() || 'run';
}

/** The files of a merged zip, without the top folder they share. */
function unzipMerged(zip: Uint8Array): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  for (const [name, bytes] of Object.entries(unzipSync(zip))) {
    if (name.endsWith('/')) continue;
    out.set(name.includes('/') ? name.slice(name.indexOf('/') + 1) : name, bytes);
  }
  return out;
}

export async function ensembleOnLab(lab: LabInputs, req: EnsembleRequest, onProgress: (p: CombineProgress) => void = () => {}): Promise<EnsembleOutcome> {
  const started = performance.now();
  if (req.members.length < 2) throw new Error(`Pick at least two finished runs to ensemble (${req.members.length} picked).`);
  const data = req.kShot ? withKShot(lab.data, { k: req.kShot, seed: req.controller.seed }) : lab.data;
  const C = data.classNames.length;
  const cached: Array<CachedMember & { head: 'linear' | 'zeroshot'; imageSize: number }> = [];
  const n = req.members.length;
  for (const [i, m] of req.members.entries()) {
    onProgress({ phase: 'members', message: `Member ${i + 1}/${n}: ${m.name} reads ${data.trainIndices.length} training and ${data.valIndices.length} validation images`, step: i, total: n });
    const ckpt = await mergedCheckpoint(m);
    const out = await memberOutputs(lab.ctx, ckpt, data, `"${m.name}"`, req.batchSize);
    cached.push({ ...out, name: m.name });
  }
  lab.ctx.pool.trim();
  onProgress({ phase: 'training', message: `Training the controller (${req.controller.steps} steps, width ${req.controller.width}) on ${data.trainIndices.length} images`, step: 0, total: req.controller.steps });
  const report = ensembleReport(cached, C, req.controller);
  const folders = req.members.map((m, i) => `members/${String(i + 1).padStart(2, '0')}-${slug(m.name)}`);
  const files = ensembleFiles(
    report.controller,
    data.classNames,
    req.members.map((m, i) => ({ run: m.name, merged: folders[i], head: cached[i].head, feature_size: cached[i].featureSize })),
  );
  // Each member's merged model beside ensemble.json, so apply_ensemble.py runs on the unzipped folder as is.
  req.members.forEach((m, i) => {
    for (const [name, bytes] of unzipMerged(m.merged)) files.set(`${folders[i]}/${name}`, bytes);
  });
  const { controller: _controller, members, ...rest } = report;
  // perImage row n is validation image data.valIndices[n]: the members read them in that order.
  const thumbnails = ensembleThumbnails(data.val, data.valIndices, shownRows(report.perImage.memberPredictions, report.valImages));
  return {
    ...rest,
    thumbnails,
    members: members.map((a, i) => ({ runId: req.members[i].runId, name: a.name, accuracy: a.accuracy, head: cached[i].head, imageSize: cached[i].imageSize, featureSize: cached[i].featureSize })),
    kShot: req.kShot ?? null,
    classNames: data.classNames,
    seconds: (performance.now() - started) / 1000,
    zip: zipFiles(files, 'ensemble'),
  };
}
