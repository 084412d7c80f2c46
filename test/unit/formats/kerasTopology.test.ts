import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { kerasPair, kerasTopology } from '../../../src/formats/kerasTopology';

const fail = (what: string): never => {
	throw new Error(what);
};
const layer = (className: string, name: string, inbound?: string[], config: Record<string, unknown> = {}) => ({
	class_name: className,
	config: { name, ...config },
	...(inbound ? { inbound_nodes: [inbound.map((n) => [n, 0, 0, {}])] } : {}),
});

void describe('Keras topology walk (readers and tfjs trainer)', () => {
	void it('flattens a Sequential nested in a Sequential, keeping the input shape of its first layer', () => {
		const topology = { class_name: 'Sequential', config: { layers: [
			{ class_name: 'Sequential', config: { name: 'stem', layers: [layer('Conv2D', 'c1', undefined, { batch_input_shape: [null, 8, 8, 1] }), layer('ReLU', 'r1')] } },
			layer('Flatten', 'f'), layer('Dense', 'd'),
		] } };
		const parsed = kerasTopology({ model_config: topology }, fail);
		assert.deepEqual(parsed?.layers.map((l) => l.name), ['c1', 'r1', 'f', 'd']);
		assert.ok(parsed?.layers.every((l) => l.inbound === undefined), 'a Sequential stays unwired');
		assert.deepEqual(parsed?.inputShape, [8, 8, 1]);
	});

	void it('wires a Sequential nested in a functional model as a chain, and rewires what the nested model fed', () => {
		const topology = { class_name: 'Functional', config: { layers: [
			layer('InputLayer', 'in'),
			{ class_name: 'Sequential', config: { name: 'block', layers: [layer('InputLayer', 'block_in'), layer('Conv2D', 'c1'), layer('Conv2D', 'c2')] }, inbound_nodes: [[['in', 0, 0, {}]]] },
			layer('Flatten', 'f', ['block']),
			layer('Dense', 'd', ['f']),
		] } };
		const parsed = kerasTopology(topology, fail);
		assert.deepEqual(parsed?.layers.map((l) => [l.name, l.inbound]), [['in', undefined], ['c1', ['in']], ['c2', ['c1']], ['f', ['c2']], ['d', ['f']]]);
	});

	void it('reads Keras 3 keras_history inbound nodes, and says when there is no topology', () => {
		const topology = { class_name: 'Functional', config: { layers: [
			layer('InputLayer', 'in'),
			{ class_name: 'Dense', config: { name: 'd' }, inbound_nodes: [{ args: [{ class_name: '__keras_tensor__', config: { keras_history: ['in', 0, 0] } }] }] },
		] } };
		assert.deepEqual(kerasTopology(topology, fail)?.layers[1].inbound, ['in']);
		assert.equal(kerasTopology(undefined, fail), undefined);
		assert.throws(() => kerasTopology({ class_name: 'Sequential', config: {} }, fail), /has no layers/);
		assert.deepEqual(kerasPair(3, 1), [3, 3]);
		assert.deepEqual(kerasPair([2, 1], 1), [2, 1]);
		assert.deepEqual(kerasPair('x', 1), [1, 1]);
	});
});
