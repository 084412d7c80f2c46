import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../../../src/core/errors';
import { parseArgs } from '../../../src/cli/args';
import { profileFromArgs, profileOptions } from '../../../src/cli/analyzeCommand';
import { parseInputSize } from '../../../src/hardware/profile';

void describe('CLI arguments', () => {
	void it('reads values, flags and --name=value', () => {
		const args = parseArgs(['m.pt', '--tile', '32', '--include-linear', '--adc-law=walden'], profileOptions);
		assert.deepEqual(args.positionals, ['m.pt']);
		const profile = profileFromArgs(args);
		assert.equal(profile.crossbarSize, 32);
		assert.equal(profile.includeLinear, true);
		assert.equal(profile.adcLaw, 'walden');
	});

	void it('refuses unknown options, missing values, repeats and bad numbers with a UsageError', () => {
		assert.throws(() => parseArgs(['--nope'], profileOptions), /unknown option '--nope'/);
		assert.throws(() => parseArgs(['--tile'], profileOptions), /needs a value/);
		assert.throws(() => parseArgs(['--tile', '8', '--tile', '16'], profileOptions), /given twice/);
		assert.throws(() => profileFromArgs(parseArgs(['--tile', 'abc'], profileOptions)), UsageError);
		assert.throws(() => profileFromArgs(parseArgs(['--tile', '48'], profileOptions)), /power of two/);
		assert.throws(() => profileFromArgs(parseArgs(['--slices', '3'], profileOptions)), /slices/);
		assert.throws(() => profileFromArgs(parseArgs(['--adc-law', 'linear'], profileOptions)), /paper, walden, thermal/);
	});

	void it('parses input sizes', () => {
		assert.deepEqual(parseInputSize('3x32x32'), [3, 32, 32]);
		assert.deepEqual(parseInputSize('1×8×8'), [1, 8, 8]);
		assert.throws(() => parseInputSize('32x32'), UsageError);
		assert.throws(() => parseInputSize('3x0x32'), UsageError);
	});
});
