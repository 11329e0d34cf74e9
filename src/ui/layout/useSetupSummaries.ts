import { useDataStore } from '../state/dataStore';
import { effectiveTargets, useMethodStore } from '../state/methodStore';
import { useModelStore } from '../state/modelStore';
import { dataSummary, methodSummary, modelSummary, trainingSummary } from './summaries';

/** The setup column's one-line summaries, from the stores the panels edit. */
export function useSetupSummaries() {
  const modelInfo = useModelStore((s) => s.info);
  const modelStatus = useModelStore((s) => s.status);
  const dataInfo = useDataStore((s) => s.info);
  const dataPending = useDataStore((s) => !!s.pendingBuiltin);
  const method = useMethodStore((s) => s.method);
  const config = useMethodStore((s) => s.configs[s.method]);
  const targets = useMethodStore((s) => s.targets);
  const train = useMethodStore((s) => s.train);
  return {
    model: modelSummary(modelInfo, modelStatus),
    data: dataSummary(dataInfo, dataPending),
    method: methodSummary(method, config, effectiveTargets(targets, modelInfo), 2),
    training: trainingSummary(train),
  };
}
