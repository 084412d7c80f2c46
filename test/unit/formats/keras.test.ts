import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { kerasSnakeCase, kerasV3LayerPaths, kerasVariableIndex } from '../../../src/formats/keras';

const layer = (class_name: string, name: string, extra: Record<string, unknown> = {}) => ({ class_name, config: { name, ...extra } });

void describe('Keras 3 weight paths (saving_lib names layers by class and place)', () => {
	void it('snake-cases class names as keras.src.utils.naming does', () => {
		assert.deepEqual(['Conv2D', 'MaxPooling2D', 'BatchNormalization', 'DepthwiseConv2D', 'SeparableConv2D', 'Dense', 'InputLayer', 'GlobalAveragePooling2D'].map(kerasSnakeCase),
			['conv2d', 'max_pooling2d', 'batch_normalization', 'depthwise_conv2d', 'separable_conv2d', 'dense', 'input_layer', 'global_average_pooling2d']);
	});

	void it('numbers each class per model, skips a Sequential\'s InputLayer, and nests models', () => {
		const inner = { class_name: 'Sequential', config: { name: 'block', layers: [layer('InputLayer', 'in2'), layer('Conv2D', 'b1'), layer('BatchNormalization', 'bn'), layer('Conv2D', 'b2')] } };
		const topology = { class_name: 'Functional', config: { name: 'net', layers: [layer('InputLayer', 'image'), layer('Conv2D', 'stem'), inner, layer('MaxPooling2D', 'pool'), layer('Conv2D', 'head'), layer('Dense', 'fc')] } };
		assert.deepEqual(Object.fromEntries(kerasV3LayerPaths(topology)), {
			image: 'layers/input_layer',
			stem: 'layers/conv2d',
			b1: 'layers/sequential/layers/conv2d',
			bn: 'layers/sequential/layers/batch_normalization',
			b2: 'layers/sequential/layers/conv2d_1',
			pool: 'layers/max_pooling2d',
			head: 'layers/conv2d_1',
			fc: 'layers/dense',
		});
		// A Sequential's own InputLayer is not among its layers (Sequential.layers drops it).
		assert.equal(kerasV3LayerPaths({ class_name: 'Sequential', config: { layers: [layer('InputLayer', 'x'), layer('Dense', 'd')] } }).get('x'), undefined);
	});

	void it('gives each variable its index in the order the layer creates them', () => {
		assert.equal(kerasVariableIndex('Conv2D', {}, 'kernel'), 0);
		assert.equal(kerasVariableIndex('Dense', {}, 'bias'), 1);
		assert.equal(kerasVariableIndex('SeparableConv2D', {}, 'pointwise_kernel'), 1);
		assert.equal(kerasVariableIndex('BatchNormalization', {}, 'moving_mean'), 2);
		assert.equal(kerasVariableIndex('BatchNormalization', { scale: false }, 'moving_mean'), 1);
		assert.equal(kerasVariableIndex('BatchNormalization', { scale: false }, 'gamma'), undefined);
	});
});
