import { ModelFormatError } from '../../core/errors';
import type { ByteSource } from '../byteSource';
import { dtypeBytes } from '../dtype';
import { undecodedStorageBytes } from './globals';
import type { TorchStorage } from './globals';
import { PickleNeedsMoreBytes, PyDict, unpickleAt } from './pickle';
import type { UnpickleContext } from './pickle';

/**
 * The legacy `torch.save` format (torch < 1.6, and `_use_new_zipfile_serialization=False` ever
 * since; torch/serialization.py `_legacy_save`): five pickles one after the other (the magic
 * number, the protocol version, sys_info, the object, the sorted list of storage keys), then
 * each storage in that list's order as an 8-byte element count followed by its raw bytes.
 * The object pickle is read with the same restricted unpickler as data.pkl in the zip format.
 */

/** Where a legacy storage's bytes lie in the file. */
export interface LegacyStorageData {
	readonly offset: number;
	readonly byteLength: number;
}

export interface LegacyCheckpoint {
	readonly root: unknown;
	readonly bigEndian: boolean;
	/** Storage key → its bytes in the file. */
	readonly data: Map<string, LegacyStorageData>;
}

/** The structure pickles are small; one larger than this is not a checkpoint we should parse. */
const maxPickleBytes = 256 * 1024 * 1024;
const firstRead = 1 << 20;

/**
 * Reads the pickles of a legacy checkpoint, growing the prefix read from the file until they all
 * fit (they carry no length), then lays the storages out after them. `context` gives the
 * allow-list and the persistent-id handler for the object pickle, which records every storage
 * in `storages` by key.
 */
export async function readLegacyCheckpoint(source: ByteSource, context: Omit<UnpickleContext, 'partial' | 'pickleName'>, storages: ReadonlyMap<string, TorchStorage>): Promise<LegacyCheckpoint> {
	const name = source.name;
	const corrupt = (what: string): ModelFormatError => new ModelFormatError('corrupt', `${name}: a legacy PyTorch checkpoint whose ${what}.`);
	let length = Math.min(source.length, firstRead);
	for (;;) {
		const prefix = await source.read(0, length);
		try {
			const plain: UnpickleContext = { ...context, partial: true, pickleName: 'the legacy pickle', resolveGlobal: () => undefined, persistentLoad: () => {
				throw corrupt('header pickles name a storage');
			} };
			const magic = unpickleAt(prefix, 0, plain);
			if (magic.value !== 0x1950a86a20f9469cfc6cn) {
				throw new ModelFormatError('bad-magic', `${name}: a pickle, but not a legacy torch.save checkpoint (its first value is not torch's magic number).`);
			}
			const version = unpickleAt(prefix, magic.end, plain);
			if (version.value !== 1001) {
				throw new ModelFormatError('unsupported-format', `${name}: a legacy PyTorch checkpoint of protocol version ${String(version.value)}; Crossbar Lens reads version 1001.`);
			}
			const sysInfo = unpickleAt(prefix, version.end, plain);
			const bigEndian = sysInfo.value instanceof PyDict && sysInfo.value.map.get('little_endian') === false;
			const object = unpickleAt(prefix, sysInfo.end, { ...context, partial: true, pickleName: 'the legacy pickle' });
			const keys = unpickleAt(prefix, object.end, plain);
			if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === 'string')) {
				throw corrupt('storage key list is not a list of strings');
			}
			const data = await layOutStorages(source, keys.end, keys.value as string[], storages, bigEndian, corrupt);
			return { root: object.value, bigEndian, data };
		} catch (ex) {
			if (!(ex instanceof PickleNeedsMoreBytes)) {
				throw ex;
			}
			if (length >= source.length) {
				throw new ModelFormatError('truncated', `${name}: a legacy PyTorch checkpoint that ends inside its pickles (truncated).`);
			}
			if (length >= maxPickleBytes) {
				throw new ModelFormatError('too-large', `${name}: a legacy PyTorch checkpoint whose pickles run past ${maxPickleBytes} bytes; a checkpoint's pickle holds structure, not data.`);
			}
			length = Math.min(source.length, length * 4);
		}
	}
}

async function layOutStorages(source: ByteSource, start: number, keys: readonly string[], storages: ReadonlyMap<string, TorchStorage>, bigEndian: boolean, corrupt: (what: string) => ModelFormatError): Promise<Map<string, LegacyStorageData>> {
	const data = new Map<string, LegacyStorageData>();
	let offset = start;
	for (const key of keys) {
		const storage = storages.get(key);
		if (!storage) {
			throw corrupt(`storage list names '${key}', which its pickle never uses`);
		}
		const itemBytes = storage.dtype ? dtypeBytes[storage.dtype] : undecodedStorageBytes[storage.typeName];
		if (itemBytes === undefined) {
			throw new ModelFormatError('unsupported-format', `${source.name}: a legacy PyTorch checkpoint with a ${storage.typeName}, whose element size Crossbar Lens does not know, so the storages after it cannot be found.`);
		}
		if (offset + 8 > source.length) {
			throw new ModelFormatError('truncated', `${source.name}: a legacy PyTorch checkpoint that ends before storage '${key}' (truncated).`);
		}
		const header = await source.read(offset, 8);
		const count = new DataView(header.buffer, header.byteOffset, 8).getBigInt64(0, !bigEndian);
		const byteLength = Number(count) * itemBytes;
		if (count < 0n || !Number.isSafeInteger(byteLength) || offset + 8 + byteLength > source.length) {
			throw new ModelFormatError(count < 0n ? 'corrupt' : 'truncated', `${source.name}: legacy storage '${key}' declares ${count} elements, past the end of the file (truncated or corrupt).`);
		}
		if (count < BigInt(storage.numel)) {
			throw corrupt(`storage '${key}' holds ${count} elements but its pickle says ${storage.numel}`);
		}
		data.set(key, { offset: offset + 8, byteLength });
		offset += 8 + byteLength;
	}
	return data;
}
