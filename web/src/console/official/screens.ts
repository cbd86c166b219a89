/** The officials' screens, one chunk loaded when an official or admin first opens one of their
 * pages (venue managers never download it). */
import "./official.css";

export { Alerts } from "./Alerts";
export { Appeals } from "./Appeals";
export { Audit } from "./Audit";
export { CasePage } from "./CasePage";
export { Cases } from "./Cases";
export { Overrides } from "./Overrides";
export { PersonRecord } from "./PersonRecord";
export { PersonSearch } from "./PersonSearch";
export { Coverage, DailyScans, Indicators } from "./Reports";
export { RiskAreas } from "./RiskAreas";
