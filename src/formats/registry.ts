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
import { isShardIndex, openShardedModel } from './sharded';

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

/** File extensions the analysis reads (for menus, pickers and watchers). Shard indexes (`*.index.json`) are recognised by name. */
export const modelFileExtensions: readonly string[] = ['.pt', '.pth', '.bin', '.ckpt', '.onnx', '.safetensors', '.npz', 'model.json', '.keras', '.h5'];

const headBytes = 4096;

const formatNames: Record<FormatId, string> = {
	pytorch: 'PyTorch checkpoint (torch.save)',
	safetensors: 'safetensors',
	onnx: 'ONNX',
	tfjs: 'TF.js layers model (model.json)',
	numpy: 'NumPy .npz',
	keras: 'Keras (.keras / .h5)',
};

/**
 * Opens a model from a ByteSource: a shard index (`*.index.json`) opens its shards through this
 * function; otherwise readers whose extension matches go first, then every other reader whose
 * sniff accepts the head. When they all fail, the failure reported is that of a reader that
 * recognised the content (not merely the name); when none did, the message says what the file
 * looks like and which formats were tried, rather than blaming the reader its extension picked.
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
	if (isShardIndex(source.name, head)) {
		return openShardedModel(source, options, (shard) => openModelSource(shard, options));
	}
	const lower = source.name.toLowerCase();
	const byName = (entry: FormatEntry): boolean => entry.extensions.some((e) => lower.endsWith(e));
	const ordered = [...entries].sort((a, b) => Number(byName(b)) - Number(byName(a)));
	const tried: string[] = [];
	let nameFailure: unknown;
	let contentFailure: unknown;
	for (const entry of ordered) {
		const { reader } = entry;
		if (!safeSniff(reader, source.name, head)) {
			continue;
		}
		tried.push(formatNames[reader.id]);
		try {
			return await reader.open(source, options);
		} catch (ex) {
			// A reader that recognises the bytes under a neutral name knows what is wrong with them.
			if (safeSniff(reader, 'file', head)) {
				contentFailure ??= ex;
			} else {
				nameFailure ??= ex;
			}
		}
	}
	await source.close();
	if (contentFailure !== undefined) {
		throw contentFailure;
	}
	// A reader picked by the extension alone that found other bytes than its format's: say what they are.
	if (nameFailure !== undefined && !(ModelFormatError.is(nameFailure) && nameFailure.reason === 'bad-magic')) {
		throw nameFailure;
	}
	const all = entries.map(({ reader }) => formatNames[reader.id]).concat('sharded index (*.index.json)');
	const picked = tried.length > 0 ? `; ${tried.join(' and ')}, picked by its name, found other bytes` : '';
	throw new ModelFormatError(tried.length > 0 ? 'bad-magic' : 'unknown-format', `${source.name}: looks like ${describeBytes(head, source.length)}, none of the formats Crossbar Lens reads (checked: ${all.join(', ')}${picked}).`);
}

/** What a file that no reader takes looks like, from its first bytes (for the error message). */
export function describeBytes(head: Uint8Array, length: number): string {
	const ascii = (at: number, text: string): boolean => [...text].every((c, i) => head[at + i] === c.charCodeAt(0));
	const first = `first bytes ${hex(head.subarray(0, 8))}`;
	if (ascii(0, 'PK\x03\x04')) {
		const nameLength = head.length >= 30 ? head[26] | (head[27] << 8) : 0;
		const entry = new TextDecoder('latin1').decode(head.subarray(30, Math.min(head.length, 30 + nameLength)));
		return `a zip archive${entry ? ` whose first entry is '${entry.slice(0, 80)}'` : ''}`;
	}
	if (head[0] === 0x80 && head[1] >= 2 && head[1] <= 5) {
		return 'a bare Python pickle (not a torch.save checkpoint)';
	}
	if (ascii(0, '\x89HDF\r\n\x1a\n')) {
		return 'an HDF5 file without Keras weights';
	}
	if (head[0] === 0x1f && head[1] === 0x8b) {
		return 'a gzip file';
	}
	if (length > 262 && ascii(257, 'ustar')) {
		return 'a tar archive';
	}
	if (ascii(0, '\x93NUMPY')) {
		return 'a single NumPy .npy array (Crossbar Lens reads .npz archives)';
	}
	const text = new TextDecoder('utf-8', { fatal: false }).decode(head.subarray(0, 512));
	const printable = [...text].filter((c) => c >= ' ' || c === '\n' || c === '\r' || c === '\t').length;
	if (text.length > 0 && printable / text.length > 0.95) {
		const json = /^\s*\{/.test(text);
		if (json) {
			const keys = [...text.matchAll(/"([^"\\]{1,40})"\s*:/g)].map((m) => m[1]).slice(0, 4);
			return `a JSON document${keys.length > 0 ? ` (keys ${keys.join(', ')}, …)` : ''}`;
		}
		return `a text file ('${text.trim().slice(0, 30).replace(/\s+/g, ' ')}…')`;
	}
	return `binary data (${first})`;
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
