import type { ModelGraph } from '../../core/model';
import type { ByteSource } from '../byteSource';
import { writePytorchCheckpoint } from '../pytorch/writer';
import type { WriteOptions } from './common';
import { writeNpz } from './numpy';
import { writeOnnx } from './onnx';
import { writeSafetensors } from './safetensors';
import { writeTfjs } from './tfjs';
import { writeKeras } from './keras';

export type { WriteOptions } from './common';
export { writeNpz } from './numpy';
export { writeOnnx } from './onnx';
export { writeSafetensors } from './safetensors';
export { writeTfjs } from './tfjs';
export { writeKeras } from './keras';

/**
 * Writes `graph` (opened from `source`) to `outPath` in its own format with `updates` (tensor
 * name → logical row-major float32 values, as TensorRef.load returns them) replacing those
 * tensors, atomically; everything else is kept as the format allows.
 */
export async function writeModel(source: ByteSource, graph: ModelGraph, updates: ReadonlyMap<string, Float32Array>, outPath: string, options: WriteOptions = {}): Promise<void> {
	switch (graph.format) {
		case 'pytorch': return writePytorchCheckpoint(source, graph, updates, outPath, options);
		case 'safetensors': return writeSafetensors(source, graph, updates, outPath, options);
		case 'onnx': return writeOnnx(source, graph, updates, outPath, options);
		case 'tfjs': return writeTfjs(source, graph, updates, outPath, options);
		case 'numpy': return writeNpz(source, graph, updates, outPath, options);
		case 'keras': return writeKeras(source, graph, updates, outPath, options);
		default: throw new Error(`${source.name}: writing ${graph.format} models is not supported.`);
	}
}
