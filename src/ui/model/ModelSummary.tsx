import type { ModelInfo } from '../../session/protocol';
import { describeOrigin, type ModelOrigin } from '../state/modelStore';
import { formatCount, formatInt } from './format';

const FAMILY: Record<string, string> = { vit: 'ViT', deit: 'DeiT', clip: 'CLIP vision tower' };

/** The text side of a CLIP: what zero-shot heads run on, or why there is none. */
function textFact(info: ModelInfo): string {
  const t = info.text;
  if (!t) return 'none: a vision-only checkpoint, so no zero-shot head (load a full CLIP, e.g. openai/clip-vit-base-patch32)';
  return `${t.layers} blocks, hidden ${t.hidden}, ${formatInt(t.vocabSize)} tokens, prompts up to ${t.maxPositions} tokens; joint embedding ${t.projectionDim}`;
}

/** What was loaded: the facts that decide what fine-tuning it costs. */
export function ModelSummary({ info, origin }: { info: ModelInfo; origin?: ModelOrigin }) {
  const tokens = (info.imageSize / info.patchSize) ** 2;
  const facts: Array<[string, string, string]> = [
    ['source', 'Source', origin ? describeOrigin(origin) : info.source],
    ['architecture', 'Architecture', `${info.text ? 'CLIP (vision and text towers)' : (FAMILY[info.family] ?? info.family)} · ${info.architecture}`],
    ['parameters', 'Parameters', `${formatInt(info.parameters)} (${formatCount(info.parameters)})`],
    ['layers', 'Layers', `${info.layers} transformer blocks`],
    ['hidden', 'Hidden size', String(info.hidden)],
    ['heads', 'Attention heads', `${info.heads} (${info.hidden / info.heads} dimensions each)`],
    ['image', 'Image size', `${info.imageSize} × ${info.imageSize} pixels`],
    ['patch', 'Patch size', `${info.patchSize} × ${info.patchSize} (${tokens} patches per image)`],
    ['linear', 'Linear layers', `${info.linearLayers.length} that adapters can target (${info.allTargets.length} kinds per block)`],
  ];
  if (info.family === 'clip') facts.push(['text', 'Text tower', textFact(info)]);
  if (info.text) facts.push(['tokenizer', 'Tokenizer', info.text.tokenizerError ?? (info.text.tokenizerFiles.join(', ') || 'none')]);
  return (
    <div className="model-summary" data-testid="model-summary" data-family={info.family}>
      <h3>Loaded model</h3>
      <dl className="facts">
        {facts.map(([key, label, value]) => (
          <div key={key} className="fact" data-testid={`model-fact-${key}`}>
            <dt>{label}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
    </div>
  );
}
