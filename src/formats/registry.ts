import { dirname } from 'node:path';
import { ModelFormatError } from '../core/errors';
import type { FormatId, ModelGraph } from '../core/model';
import { openFileSource } from './byteSource';
import type { ByteSource } from './byteSource';
import type { FormatReader, OpenOptions } from './types';
import { pytorchReader, pytorchSuffixes } from './pytorch/reader';
import { safetensorsReader } from './safetensors';
import { onnxReader } from './onnx/reader';
import { tfjsReader } from './tfjs';
import { numpyReader } from './numpy';
import { kerasReader } from './keras';
import { isShardIndex, openShardedModel } from './sharded';

/** The fine-tune engine that can start from a model file of a format (src/training). */
export type TrainingEngineId = 'tfjs' | 'pytorch';

/** One format: its reader, the file names it usually has, and the engine that fine-tunes it. */
export interface ModelFileType {
	readonly reader: FormatReader;
	/** Lower-case name endings: extensions ('.pt') or whole names ('model.json'). */
	readonly suffixes: readonly string[];
	readonly trainWith?: TrainingEngineId;
}

/**
 * Every model file the tool reads: the ONE list. Menus (package.json's `when` clauses, checked
 * by test/unit/extension/packageJson.test.ts), pickers, watchers and the engines' checks derive
 * from it. Order: readers whose suffix matches a file are tried first, in this order.
 */
export const modelFileTypes: readonly ModelFileType[] = [
	{ reader: pytorchReader, suffixes: pytorchSuffixes, trainWith: 'pytorch' },
	{ reader: safetensorsReader, suffixes: ['.safetensors'] },
	{ reader: onnxReader, suffixes: ['.onnx'], trainWith: 'tfjs' },
	{ reader: tfjsReader, suffixes: ['model.json'], trainWith: 'tfjs' },
	{ reader: numpyReader, suffixes: ['.npz'] },
	{ reader: kerasReader, suffixes: ['.keras', '.h5', '.hdf5'], trainWith: 'tfjs' },
];

/** A sharded model's index (Hugging Face `model.safetensors.index.json`, `pytorch_model.bin.index.json`): opened through its shards. */
export const shardIndexSuffix = '.index.json';

/** The name views give a model file: its folder for a shard index (as Hugging Face names models), else the file's name. */
export function modelDisplayPath(path: string): string {
	return hasSuffix(path, [shardIndexSuffix]) ? dirname(path) : path;
}

/** Name endings of every model file the analysis reads (for menus, pickers and watchers). */
export const modelFileExtensions: readonly string[] = [...modelFileTypes.flatMap((t) => t.suffixes), shardIndexSuffix];

/** Name endings of the model files an engine fine-tunes. */
export function trainableSuffixes(engine?: TrainingEngineId): string[] {
	return modelFileTypes.filter((t) => (engine === undefined ? t.trainWith !== undefined : t.trainWith === engine)).flatMap((t) => t.suffixes);
}

/** Whether a file name ends with one of `suffixes` (case-insensitive). */
export function hasSuffix(name: string, suffixes: readonly string[]): boolean {
	const lower = name.toLowerCase();
	return suffixes.some((suffix) => lower.endsWith(suffix));
}

/** The suffixes as a reader would say them: ".pt .pth … model.json". */
export function describeSuffixes(suffixes: readonly string[]): string {
	return suffixes.join(' ');
}

/**
 * The `when` clause of a menu item shown for these suffixes (VS Code context keys): extensions
 * through `resourceExtname`, whole names through `resourceFilename`, longer endings
 * ('.index.json', whose extname is '.json') through a pattern on `resourceFilename`.
 */
function menuWhenClause(suffixes: readonly string[]): string {
	const isExtension = (s: string): boolean => s.startsWith('.') && !s.slice(1).includes('.');
	const extensions = suffixes.filter(isExtension).map((s) => s.slice(1));
	const names = suffixes.filter((s) => !s.startsWith('.'));
	const endings = suffixes.filter((s) => s.startsWith('.') && !isExtension(s));
	return [
		`resourceExtname =~ /^\\.(${extensions.join('|')})$/i`,
		...names.map((n) => `resourceFilename == ${n}`),
		...endings.map((e) => `resourceFilename =~ /${e.replace(/\./g, '\\.')}$/i`),
	].join(' || ');
}

/**
 * The `when` clause package.json must give each model-file menu item, by command id: analysis,
 * pruning and reports for every model file; fine-tuning (which runs code) for the files an engine
 * trains, in trusted workspaces only. scripts/sync-menus.ts writes them into package.json.
 */
export function menuWhenClauses(): Record<string, string> {
	const all = menuWhenClause(modelFileExtensions);
	return {
		'crossbarLens.analyzeModel': all,
		'crossbarLens.pruneModel': all,
		'crossbarLens.exportReport': all,
		'crossbarLens.runFineTune': `isWorkspaceTrusted && (${menuWhenClause(trainableSuffixes())})`,
	};
}

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
	const matches = (type: ModelFileType): boolean => hasSuffix(source.name, type.suffixes);
	const ordered = [...modelFileTypes].sort((a, b) => Number(matches(b)) - Number(matches(a)));
	const tried: string[] = [];
	let nameFailure: unknown;
	let contentFailure: unknown;
	for (const { reader } of ordered) {
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
	const all = modelFileTypes.map(({ reader }) => formatNames[reader.id]).concat(`sharded index (*${shardIndexSuffix})`);
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
		// torch.save before 0.4 wrote a tar of these four entries; torch.load still reads it, we do not.
		const entry = new TextDecoder('latin1').decode(head.subarray(0, 100)).replace(/\0.*$/s, '');
		if (['sys_info', 'pickle', 'storages', 'tensors'].includes(entry)) {
			return 'a PyTorch checkpoint in the tar format of torch 0.3 and older, which Crossbar Lens does not read (load it with a torch you trust and save it again)';
		}
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
