import { useQuery } from '@tanstack/react-query';
import { acquireGpu, type AcquiredGpu } from '../gpu/device';

export const GPU_QUERY_KEY = ['gpu'] as const;

/**
 * The page's one WebGPU adapter and device. This is the only place the page reads `navigator.gpu`;
 * everything below the ui layer receives the device it is given.
 */
export function useGpu() {
  return useQuery<AcquiredGpu, Error>({
    queryKey: GPU_QUERY_KEY,
    queryFn: () => acquireGpu(typeof navigator === 'undefined' ? undefined : navigator.gpu),
    // A device is a live handle, not data: acquire it once, never refetch or copy it behind the page's back.
    staleTime: Infinity,
    gcTime: Infinity,
    retry: false,
    refetchOnWindowFocus: false,
    refetchOnReconnect: false,
    structuralSharing: false,
  });
}
