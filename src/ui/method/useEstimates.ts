import { useEffect, useState } from 'react';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import type { RunSpec } from '../../session/run';
import { getLab, useLabDevice } from '../lab';
import { useDataStore } from '../state/dataStore';
import { METHOD_IDS, effectiveTargets, useMethodStore } from '../state/methodStore';
import { useModelStore } from '../state/modelStore';

function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return v;
}

/**
 * What every method would cost with the panel's settings (trainable parameters, reachable rank
 * per layer, GPU memory), from the lab worker's estimate(); asked again a moment after the
 * settings stop changing, showing the previous answer meanwhile.
 */
export function useEstimates() {
  const device = useLabDevice();
  const info = useModelStore((s) => s.info);
  const loads = useModelStore((s) => s.loads);
  const classes = useDataStore((s) => s.info?.classNames.length ?? 0);
  const configs = useMethodStore((s) => s.configs);
  const targets = useMethodStore((s) => s.targets);
  const train = useMethodStore((s) => s.train);
  const chosen = effectiveTargets(targets, info);
  const specs: RunSpec[] = METHOD_IDS.map((method) => ({
    id: `estimate-${method}`,
    name: method,
    method,
    methodConfig: configs[method],
    targets: chosen,
    train,
  }));
  const key = JSON.stringify(specs);
  const settled = useDebounced(key, 250);
  const query = useQuery({
    queryKey: ['estimate', info?.source ?? '', loads, classes, settled],
    queryFn: () => getLab().estimate(JSON.parse(settled) as RunSpec[]),
    enabled: !!info && device.isSuccess,
    placeholderData: keepPreviousData,
    retry: false,
    staleTime: Infinity,
  });
  return { ...query, updating: key !== settled || query.isFetching };
}
