import * as vscode from 'vscode';
import { UsageError } from '../core/errors';
import { parseInputSize, resolveProfile } from '../hardware/profile';
import type { AdcLaw, HardwareProfile } from '../shared/analysis';
import { configSection, Settings } from '../shared/commandIds';
import type { ProfileChoiceDto } from '../shared/protocol';

/**
 * The hardware profile from the `crossbarLens.hardware.*` settings, validated by the same
 * resolveProfile as the CLI. A bad value is a UsageError that names the setting.
 */
export function profileFromSettings(scope?: vscode.Uri): HardwareProfile {
	const config = vscode.workspace.getConfiguration(configSection, scope);
	const get = <T>(key: string): T | undefined => config.get<T>(key);
	const inputSizeText = (get<string>(Settings.inputSize) ?? '').trim();
	let inputSize: number[] | undefined;
	try {
		inputSize = inputSizeText === '' ? undefined : parseInputSize(inputSizeText);
	} catch (ex) {
		throw new UsageError(`Setting ${configSection}.${Settings.inputSize}: ${(ex as Error).message}`);
	}
	try {
		return resolveProfile({
			crossbarSize: get<number>(Settings.crossbarSize),
			slices: get<number>(Settings.slices),
			tol: get<number>(Settings.tol),
			adcLaw: get<AdcLaw>(Settings.adcLaw),
			adcEnergyPjAt8Bits: get<number>(Settings.adcEnergyPjAt8Bits),
			inputBits: get<number>(Settings.inputBits),
			includeLinear: get<boolean>(Settings.includeLinear),
			inputSize,
		});
	} catch (ex) {
		if (ex instanceof UsageError) {
			throw new UsageError(`Crossbar Lens settings (${configSection}.hardware.*): ${ex.message}`);
		}
		throw ex;
	}
}

/** The settings profile with the panel's switcher applied on top (validated again). */
export function applyChoice(profile: HardwareProfile, choice: ProfileChoiceDto | undefined): HardwareProfile {
	return choice ? resolveProfile({ ...profile, ...choice }) : profile;
}

export function choiceOf(profile: HardwareProfile): ProfileChoiceDto {
	return { crossbarSize: profile.crossbarSize, slices: profile.slices, adcLaw: profile.adcLaw, includeLinear: profile.includeLinear };
}

/** Two analyses with the same key are comparable (same mapping, counting and law). */
export function profileKey(profile: HardwareProfile): string {
	return [profile.crossbarSize, profile.slices, profile.tol, profile.adcLaw, profile.includeLinear ? 'L' : 'C', profile.inputBits, profile.adcEnergyPjAt8Bits, profile.inputSize?.join('x') ?? ''].join('|');
}

export function affectsProfile(event: vscode.ConfigurationChangeEvent): boolean {
	return event.affectsConfiguration(`${configSection}.hardware`);
}

export function affectsCodeLens(event: vscode.ConfigurationChangeEvent): boolean {
	return event.affectsConfiguration(`${configSection}.codeLens`) || affectsProfile(event);
}

export function codeLensEnabled(): boolean {
	return vscode.workspace.getConfiguration(configSection).get<boolean>(Settings.codeLensEnabled, true);
}
