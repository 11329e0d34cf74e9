import { WebGpuUnavailableError } from './errors';

/**
 * Limits below which the engine cannot run its kernels at all. The matmul tiles need 256
 * invocations and 16 KiB of workgroup memory; a fused adapter kernel binds up to 8 storage buffers.
 */
export const MINIMUM_LIMITS = {
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupStorageSize: 16384,
  maxStorageBuffersPerShaderStage: 8,
  maxStorageBufferBindingSize: 128 * 1024 * 1024,
} as const;

/** Limits the engine asks for up to the adapter's maximum: bigger models need bigger buffers. */
const WANTED_AT_ADAPTER_MAXIMUM = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;

const OPTIONAL_FEATURES: GPUFeatureName[] = ['timestamp-query', 'subgroups', 'shader-f16'];

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** True for software rasterisers (SwiftShader, llvmpipe): everything works, slowly. */
  isSoftware: boolean;
  features: string[];
  limits: Record<string, number>;
}

export interface AcquiredGpu {
  adapter: GPUAdapter;
  device: GPUDevice;
  summary: AdapterSummary;
}

export function summariseAdapter(adapter: GPUAdapter): AdapterSummary {
  const info = adapter.info;
  const limits: Record<string, number> = {};
  // GPUSupportedLimits exposes its values as prototype getters, so Object.keys sees none of them.
  for (const key of [...WANTED_AT_ADAPTER_MAXIMUM, 'maxComputeWorkgroupStorageSize', 'maxBindGroups'] as const) {
    limits[key] = adapter.limits[key];
  }
  const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`.toLowerCase();
  return {
    vendor: info.vendor || 'unknown',
    architecture: info.architecture || 'unknown',
    device: info.device || '',
    description: info.description || '',
    isSoftware: /swiftshader|llvmpipe|lavapipe|software|microsoft basic/.test(text),
    features: [...adapter.features].sort(),
    limits,
  };
}

function tooSmall(adapter: GPUAdapter): string[] {
  return Object.entries(MINIMUM_LIMITS)
    .filter(([k, v]) => adapter.limits[k as keyof typeof MINIMUM_LIMITS] < v)
    .map(([k, v]) => `${k} is ${adapter.limits[k as keyof typeof MINIMUM_LIMITS]}, needs ${v}`);
}

async function requestUsableAdapter(gpu: GPU | undefined, options: { powerPreference?: GPUPowerPreference }): Promise<GPUAdapter> {
  if (!gpu) {
    throw new WebGpuUnavailableError(
      'This browser does not expose WebGPU (navigator.gpu is missing). Use a recent Chrome or Edge; ' +
        'on Linux start it with --enable-unsafe-webgpu (or enable chrome://flags/#enable-unsafe-webgpu), ' +
        'and make sure the page is served over https or from localhost.',
      'missing',
    );
  }
  const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
  if (!adapter) {
    throw new WebGpuUnavailableError(
      'WebGPU is present but no GPU adapter was offered. It may be disabled (check chrome://gpu), ' +
        'blocklisted for this driver, or the GPU process crashed; try updating the driver or restarting the browser.',
      'no-adapter',
    );
  }
  const missing = tooSmall(adapter);
  if (missing.length) {
    throw new WebGpuUnavailableError(
      `This GPU's WebGPU limits are too small for Rankscope: ${missing.join('; ')}. Try another browser or GPU.`,
      'limits',
    );
  }
  return adapter;
}

/**
 * Checks that WebGPU is there and good enough, without creating a device: the page shows this,
 * while the training worker acquires the device it uses.
 */
export async function inspectGpu(gpu: GPU | undefined, options: { powerPreference?: GPUPowerPreference } = {}): Promise<AdapterSummary> {
  return summariseAdapter(await requestUsableAdapter(gpu, options));
}

/**
 * Gets an adapter and a device with the limits the engine needs. `gpu` is `navigator.gpu` in a page
 * or worker, or the object from the `webgpu` package under Node: this module never looks for it.
 */
export async function acquireGpu(
  gpu: GPU | undefined,
  options: { powerPreference?: GPUPowerPreference } = {},
): Promise<AcquiredGpu> {
  const adapter = await requestUsableAdapter(gpu, options);
  const requiredLimits: Record<string, number> = {};
  for (const key of WANTED_AT_ADAPTER_MAXIMUM) requiredLimits[key] = adapter.limits[key];
  const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f));
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'rankscope' });
  } catch (e) {
    throw new WebGpuUnavailableError(
      `The GPU adapter refused to create a device: ${(e as Error).message}. Close other GPU-heavy tabs and retry.`,
      'device',
    );
  }
  return { adapter, device, summary: summariseAdapter(adapter) };
}
