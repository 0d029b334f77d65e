import reference from "./country-regions.json" with { type: "json" };

/** The region of a country that is not in the reference table. */
export const UNASSIGNED_REGION = "Unassigned";

const regionByCountry: ReadonlyMap<string, string> = new Map(Object.entries(reference.countries));

/** Every region a sale can aggregate under, "Unassigned" last. */
export const regions: readonly string[] = reference.regions;

/** Countries of the reference table, in alphabetical order. */
export const knownCountries: readonly string[] = [...regionByCountry.keys()];

/** The region of a country, or "Unassigned" for a country the reference table does not know. */
export function regionOf(country: string): string {
  return regionByCountry.get(country) ?? UNASSIGNED_REGION;
}
