/**
 * A real 1-D signal for the early lessons: five minutes of an electrocardiogram (ECG) from the
 * MIT-BIH Arrhythmia Database, record 208, lead MLII, sampled at 360 Hz (see datasets/README.md
 * for provenance and licence). It has clean heartbeats, premature ventricular contractions, noise
 * artifacts and 60 Hz mains hum: good material for filtering a real signal with an SSM.
 */
import { loadDatasetBytes } from "./index";
import type { Tensor } from "../tensor";

/** The file in datasets/ that holds the ECG: raw 11-bit ADC samples as little-endian uint16. */
export const ECG_FILE = "ecg-mitbih-208.u16le";
/** Samples per second. */
export const ECG_SAMPLE_RATE_HZ = 360;
/** ADC value of 0 mV (from the record's header). */
export const ECG_ADC_ZERO = 1024;
/** ADC units per millivolt (from the record's header). */
export const ECG_ADC_GAIN = 200;

/** The ECG as returned by {@link loadEcg}. */
export interface Ecg {
  /** The signal in millivolts, shape (l) with l = 108000 (300 s at 360 Hz), float64. */
  signal: Tensor<Float64Array>;
  /** Samples per second (360). */
  sampleRateHz: number;
  /** Unit of `signal`. */
  unit: "mV";
  /** Where it comes from, in one line. */
  source: string;
}

/**
 * Loads the ECG (verified against the manifest) and converts ADC units to millivolts:
 * mV = (adc - 1024) / 200, as the record's header specifies.
 * @param dir the datasets folder (default: the course's)
 * @returns signal (l) in mV, l = 108000, plus its sample rate
 */
export function loadEcg(dir?: string): Ecg {
  const bytes = loadDatasetBytes(ECG_FILE, dir);
  if (bytes.length % 2 !== 0) {
    throw new Error(
      `loadEcg: datasets/${ECG_FILE}: expected an even number of bytes, got ${bytes.length}`,
    );
  }
  const n = bytes.length / 2;
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) data[i] = (bytes.readUInt16LE(2 * i) - ECG_ADC_ZERO) / ECG_ADC_GAIN;
  return {
    signal: { shape: [n], data },
    sampleRateHz: ECG_SAMPLE_RATE_HZ,
    unit: "mV",
    source:
      "MIT-BIH Arrhythmia Database, record 208, lead MLII, 19:35-24:35 (via SciPy's electrocardiogram())",
  };
}
