/**
 * The layer list of a Keras topology, as TF.js (model.json `modelTopology`), Keras 2 (.h5
 * `model_config`) and Keras 3 (.keras `config.json`) write it. One walk, used by the readers
 * (src/formats/tfjs.ts, keras.ts) and by the tfjs trainer (src/training/tfjs/layersModel.ts).
 */
import { isRecord } from '../shared/isRecord';

/** A layer output shape without the batch axis; undefined entries (and an undefined shape) are unknown. */
export type KerasShape = (number | undefined)[] | undefined;

export interface KerasLayer {
	readonly className: string;
	readonly name: string;
	readonly config: Record<string, unknown>;
	/** Names of the layers feeding this one (first call only); undefined in a Sequential. */
	readonly inbound?: string[];
}

export interface KerasTopology {
	/** Every layer in order, nested Sequential/Functional models flattened in place. */
	readonly layers: KerasLayer[];
	/** The first `batch_input_shape`/`batch_shape` found, without the batch axis. */
	readonly inputShape?: KerasShape;
}

/** The classes that are models holding layers of their own. */
export const kerasContainers: ReadonlySet<string> = new Set(['Sequential', 'Functional', 'Model']);

/** The model inside a topology: .h5's `model_config` wrapper, or the topology itself. */
export function kerasModel(topology: unknown): unknown {
	return isRecord(topology) && isRecord(topology.model_config) ? topology.model_config : topology;
}

/** A container's layer entries: `config.layers`, or (old Sequential) `config` itself. */
export function kerasLayerList(container: Record<string, unknown>): unknown[] | undefined {
	const config = container.config;
	return Array.isArray(config) ? config : isRecord(config) && Array.isArray(config.layers) ? config.layers : undefined;
}

/** A Keras int-or-pair argument (kernel_size, strides, …) as [h, w]. */
export function kerasPair(value: unknown, fallback: number): [number, number] {
	if (typeof value === 'number') {
		return [value, value];
	}
	if (Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === 'number')) {
		return [value[0] as number, value[1] as number];
	}
	return [fallback, fallback];
}

/** Names of the layers in a Keras inbound node (Keras 2 `[[name, 0, 0, {}]]` lists, Keras 3 `keras_history`). */
export function inboundNames(value: unknown): string[] {
	const names: string[] = [];
	const visit = (v: unknown, depth: number): void => {
		// Real inbound nodes nest 3 to 6 levels; a deeper structure is not one.
		if (depth > 32) {
			return;
		}
		if (Array.isArray(v)) {
			if (typeof v[0] === 'string' && typeof v[1] === 'number') {
				names.push(v[0]);
				return;
			}
			v.forEach((item) => visit(item, depth + 1));
		} else if (isRecord(v)) {
			if (isRecord(v.config) && Array.isArray(v.config.keras_history)) {
				visit(v.config.keras_history, depth + 1);
				return;
			}
			Object.values(v).forEach((item) => visit(item, depth + 1));
		}
	};
	visit(value, 0);
	return names;
}

/**
 * Flattens a topology (the model object itself, or a wrapper with `model_config`) into its layers
 * in order. A nested model becomes its own layers in place: inside a functional parent they are
 * wired as a chain from the nested model's input, and a later layer fed by the nested model is fed
 * by its last layer. `fail` says why something that must be a topology is not one (it throws).
 * Undefined when there is no topology at all (a weights-only file).
 */
export function kerasTopology(topology: unknown, fail: (what: string) => never): KerasTopology | undefined {
	const model = kerasModel(topology);
	if (!isRecord(model)) {
		return undefined;
	}
	const layers: KerasLayer[] = [];
	const aliases = new Map<string, string>();
	let inputShape: KerasShape;
	const resolve = (names: string[] | undefined): string[] | undefined => names?.map((n) => aliases.get(n) ?? n);

	const walk = (container: Record<string, unknown>, depth: number, feed: string[] | undefined): void => {
		const list = kerasLayerList(container);
		if (!list) {
			fail(`modelTopology '${String(container.class_name)}' has no layers`);
		}
		// Inside a functional parent, the layers of a nested Sequential (which name no inbound
		// layers) are a chain starting from what feeds the nested model.
		let chain = feed;
		for (const entry of list) {
			if (!isRecord(entry) || typeof entry.class_name !== 'string') {
				continue;
			}
			const layerConfig = isRecord(entry.config) ? entry.config : {};
			const name = typeof layerConfig.name === 'string' ? layerConfig.name : typeof entry.name === 'string' ? entry.name : `${entry.class_name}_${layers.length}`;
			const inbound = Array.isArray(entry.inbound_nodes) && entry.inbound_nodes.length > 0 ? resolve(inboundNames(entry.inbound_nodes[0])) : undefined;
			if (kerasContainers.has(entry.class_name)) {
				if (depth >= 16) {
					fail(`models nest more than 16 deep at '${name}'`);
				}
				const before = layers.length;
				walk(entry, depth + 1, inbound ?? chain);
				const last = layers.slice(before).reverse().find((l) => l.className !== 'InputLayer');
				if (last) {
					aliases.set(name, last.name);
					chain = chain !== undefined ? [last.name] : undefined;
				}
				continue;
			}
			const batchShape = layerConfig.batch_input_shape ?? layerConfig.batch_shape;
			if (inputShape === undefined && Array.isArray(batchShape)) {
				inputShape = batchShape.slice(1).map((d) => (typeof d === 'number' && d > 0 ? d : undefined));
			}
			if (entry.class_name === 'InputLayer' && depth > 0) {
				// A nested model's own input: what feeds the nested model feeds its first layer.
				if (feed !== undefined) aliases.set(name, feed[0]);
				continue;
			}
			const wired = inbound ?? (chain !== undefined && entry.class_name !== 'InputLayer' ? chain : undefined);
			layers.push({ className: entry.class_name, name, config: layerConfig, ...(wired !== undefined ? { inbound: wired } : {}) });
			if (chain !== undefined || inbound !== undefined) chain = [name];
		}
	};
	walk(model, 0, undefined);
	return { layers, inputShape };
}
