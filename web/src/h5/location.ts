/** The device's position for a check-in (the API refuses a check-in far from the venue: a
 * forwarded photo of a poster). Coarse accuracy is enough (the API allows kilometres). */
export interface Position {
  lat: number;
  lng: number;
}

export function currentPosition(timeoutMs = 15000): Promise<Position> {
  return new Promise((resolve, reject) => {
    if (!("geolocation" in navigator)) {
      reject(new Error("no geolocation"));
      return;
    }
    navigator.geolocation.getCurrentPosition(
      (position) => resolve({ lat: position.coords.latitude, lng: position.coords.longitude }),
      (error) => reject(new Error(error.message || "geolocation refused")),
      { enableHighAccuracy: false, maximumAge: 60_000, timeout: timeoutMs },
    );
  });
}
