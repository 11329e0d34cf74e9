import { describe, expect, it } from 'vitest';
import type { DatasetInfo, ModelInfo } from '../../session/protocol';
import { TRAIN_DEFAULTS } from '../../train/trainer';
import { dataSummary, methodSummary, modelSummary, shortName, shortTargets, trainingSummary } from './summaries';

const model = { source: 'http://127.0.0.1:4173/models/rankscope-vit-fmnist5/', parameters: 65_418 } as ModelInfo;
const data = { source: 'fashion-mnist-heldout', classNames: ['a', 'b', 'c'], trainCounts: [8, 8, 8], valCounts: [2, 2, 3] } as DatasetInfo;

describe('setup summaries', () => {
  it('names the model by the last part of its source, with its size', () => {
    expect(shortName('a/b/c/')).toBe('c');
    expect(shortName('http://127.0.0.1:4173/datasets/fashion-mnist-heldout/ (train)')).toBe('fashion-mnist-heldout (train)');
    expect(modelSummary(model)).toBe('rankscope-vit-fmnist5 · 65.4k params');
    expect(modelSummary(undefined, 'loading')).toBe('loading…');
    expect(modelSummary(undefined)).toBe('no model loaded');
  });

  it('counts the data set’s classes and split', () => {
    expect(dataSummary(data)).toBe('fashion-mnist-heldout · 3 classes · 24 train / 7 val');
    expect(dataSummary(undefined, true)).toBe('loading…');
  });

  it('gives the method, its settings and short target names', () => {
    expect(shortTargets(['query', 'value', 'attention.output.dense', 'intermediate.dense', 'output.dense'])).toBe('q,v,o,fc1,fc2');
    expect(shortTargets(['q_proj', 'mlp.fc1'])).toBe('q,fc1');
    expect(methodSummary('lora', { r: 8, alpha: 8, rslora: false }, ['query', 'value'], 1)).toBe('LoRA r=8 · q,v');
    expect(methodSummary('lora', { r: 16, alpha: 32, rslora: true }, ['query'])).toBe('LoRA r=16 alpha=32 rslora · q');
    // Full fine-tuning and the probe have no settings and no targets.
    expect(methodSummary('full', {}, ['query'])).toBe('Full fine-tuning');
    expect(methodSummary('probe', {}, ['query'])).toBe('Linear probe');
  });

  it('gives the training settings that decide a run’s length and schedule', () => {
    expect(trainingSummary({ ...TRAIN_DEFAULTS, steps: 60, batchSize: 16, lr: 5e-3, seed: 0 })).toBe('60 steps · batch 16 · lr 5e-3 · seed 0');
  });
});
