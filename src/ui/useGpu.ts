import { useQuery } from '@tanstack/react-query';
import { inspectGpu, type AdapterSummary } from '../gpu/device';
import { rememberAdapter } from './runs/environment';

export const GPU_QUERY_KEY = ['gpu'] as const;

/**
 * The page's view of WebGPU: is it there, and what adapter is it? Training acquires its own device
 * in the lab worker; the page only inspects the adapter, so it holds no second device.
 */
export function useGpu() {
  return useQuery<AdapterSummary, Error>({
    queryKey: GPU_QUERY_KEY,
    queryFn: async () => {
      const summary = await inspectGpu(typeof navigator === 'undefined' ? undefined : navigator.gpu);
      rememberAdapter(summary);
      return summary;
    },
    // The adapter does not change under a page: inspect it once.
    staleTime: Infinity,
    gcTime: Infinity,
    retry: false,
    refetchOnWindowFocus: false,
    refetchOnReconnect: false,
    structuralSharing: false,
  });
}
