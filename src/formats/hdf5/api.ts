import type { DType } from '../../core/model';
import type { ByteSource } from '../byteSource';
import type { Hdf5Type, Hdf5Value } from './datatype';
import type { Chunk, Filter, Layout } from './layout';

/** Attributes, shared by groups and datasets. */
export interface Hdf5Object {
	/** 'group/sub/name', '' for the root. */
	readonly path: string;
	readonly name: string;
	/** The object header's file address (one object may have several paths). */
	readonly address: number;
	/** Attribute names in name order. */
	attributeNames(): Promise<string[]>;
	/** One attribute's value; undefined when absent; 'unsupported-dtype' for compound and similar types. */
	attribute(name: string): Promise<Hdf5Value | undefined>;
	/** Every attribute whose type decodes (numbers, strings), in name order. */
	attributes(): Promise<Map<string, Hdf5Value>>;
}

export interface Hdf5Group extends Hdf5Object {
	readonly kind: 'group';
	/**
	 * Hard-linked groups and datasets, in creation order when the group tracks it, otherwise in
	 * name order (as h5py iterates them; old-style groups are always in name order).
	 */
	children(): Promise<(Hdf5Group | Hdf5Dataset)[]>;
	/** The object at a path relative to this group, following soft links; undefined when absent. */
	get(path: string): Promise<Hdf5Group | Hdf5Dataset | undefined>;
}

export interface Hdf5Dataset extends Hdf5Object {
	readonly kind: 'dataset';
	/** [] for a scalar. */
	readonly shape: readonly number[];
	readonly type: Hdf5Type;
	/** The repo's dtype; undefined for strings, other classes and uint16/32/64 (which still load). */
	readonly dtype: DType | undefined;
	readonly storage: Layout;
	readonly filters: readonly Filter[];
	/**
	 * Absolute byte range of the elements in the file (row-major, in `type`'s byte order) for
	 * compact and allocated contiguous datasets without filters; undefined otherwise.
	 */
	readonly rawRange: { readonly offset: number; readonly length: number } | undefined;
	/** Stored chunks of a chunked dataset ([] otherwise). */
	chunks(): Promise<Chunk[]>;
	/** All elements as stored (row-major, file byte order), after undoing filters. */
	readRaw(): Promise<Uint8Array>;
	/**
	 * All elements as float32 in row-major order; `into` is reused when large enough. Unwritten
	 * storage (unallocated contiguous data, missing chunks) reads as 0 whatever the fill value.
	 */
	load(into?: Float32Array): Promise<Float32Array>;
}

export interface Hdf5File {
	readonly source: ByteSource;
	readonly superblockVersion: number;
	readonly root: Hdf5Group;
	/** Same as root.get(path). */
	get(path: string): Promise<Hdf5Group | Hdf5Dataset | undefined>;
	/** Every dataset reachable from the root through hard links, depth first in children order, each once. */
	datasets(): Promise<Hdf5Dataset[]>;
	/** Closes the source. */
	close(): Promise<void>;
}
