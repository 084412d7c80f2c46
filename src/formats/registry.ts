import { ModelFormatError } from '../core/errors';
import type { FormatId, ModelGraph } from '../core/model';
import { openFileSource } from './byteSource';
import type { ByteSource } from './byteSource';
import type { FormatReader, OpenOptions } from './types';
import { pytorchReader } from './pytorch/reader';
import { safetensorsReader } from './safetensors';
import { onnxReader } from './onnx/reader';
import { tfjsReader } from './tfjs';
import { numpyReader } from './numpy';
import { kerasReader } from './keras';

interface FormatEntry {
	readonly reader: FormatReader;
	/** File names this format usually has (lower case). */
	readonly extensions: readonly string[];
}

const entries: readonly FormatEntry[] = [
	{ reader: pytorchReader, extensions: ['.pt', '.pth', '.bin', '.ckpt', '.tar'] },
	{ reader: safetensorsReader, extensions: ['.safetensors'] },
	{ reader: onnxReader, extensions: ['.onnx'] },
	{ reader: tfjsReader, extensions: ['.json'] },
	{ reader: numpyReader, extensions: ['.npz'] },
	{ reader: kerasReader, extensions: ['.keras', '.h5', '.hdf5'] },
];

/** File extensions the analysis reads (for menus, pickers and watchers). */
export const modelFileExtensions: readonly string[] = ['.pt', '.pth', '.bin', '.ckpt', '.onnx', '.safetensors', '.npz', 'model.json', '.keras', '.h5'];

const headBytes = 4096;

const formatNames: Record<FormatId, string> = {
	pytorch: 'PyTorch checkpoint (torch.save zip)',
	safetensors: 'safetensors',
	onnx: 'ONNX',
	tfjs: 'TF.js layers model (model.json)',
	numpy: 'NumPy .npz',
	keras: 'Keras (.keras / .h5)',
};

/**
 * Opens a model from a ByteSource: readers whose extension matches go first, then every other
 * reader whose sniff accepts the head. The failure of the most likely reader is the one reported.
 */
export async function openModelSource(source: ByteSource, options: OpenOptions = {}): Promise<ModelGraph> {
	if (source.length === 0) {
		await source.close();
		throw new ModelFormatError('empty', `${source.name}: the file is empty.`);
	}
	let head: Uint8Array;
	try {
		head = await source.read(0, Math.min(headBytes, source.length));
	} catch (ex) {
		await source.close();
		throw ex;
	}
	const lower = source.name.toLowerCase();
	const ordered = [...entries].sort((a, b) => Number(b.extensions.some((e) => lower.endsWith(e))) - Number(a.extensions.some((e) => lower.endsWith(e))));
	let firstFailure: unknown;
	for (const { reader } of ordered) {
		if (!safeSniff(reader, source.name, head)) {
			continue;
		}
		try {
			return await reader.open(source, options);
		} catch (ex) {
			firstFailure ??= ex;
		}
	}
	await source.close();
	if (firstFailure !== undefined) {
		throw firstFailure;
	}
	const expected = ordered.filter(({ extensions }) => extensions.some((e) => lower.endsWith(e))).map(({ reader }) => formatNames[reader.id]);
	throw new ModelFormatError(expected.length > 0 ? 'bad-magic' : 'unknown-format', expected.length > 0
		? `${source.name}: does not look like a ${expected.join(' or ')} file (first bytes ${hex(head.subarray(0, 8))}).`
		: `${source.name}: not a model format Crossbar Lens reads (PyTorch, safetensors, ONNX, TF.js model.json, npz, Keras .keras/.h5).`);
}

/** Opens a model file by path. */
export async function openModel(path: string, options: OpenOptions = {}, displayName: string = path): Promise<ModelGraph> {
	return openModelSource(await openFileSource(path, displayName), options);
}

export function formatIds(): FormatId[] {
	return entries.map((e) => e.reader.id);
}

function safeSniff(reader: FormatReader, name: string, head: Uint8Array): boolean {
	try {
		return reader.sniff(name, head);
	} catch {
		return false;
	}
}

function hex(bytes: Uint8Array): string {
	return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}
