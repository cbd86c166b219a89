/** Read a QR code with the device camera: getUserMedia (rear camera preferred), each frame drawn
 * to a canvas and given to jsQR, until one decodes. Tracks are always stopped at the end. */
import jsQR from "jsqr";

export interface ScanHandle {
  /** Resolves with the decoded text; rejects when the camera is refused or the scan stopped. */
  result: Promise<string>;
  stop: () => void;
}

export function scanQr(video: HTMLVideoElement): ScanHandle {
  let stopped = false;
  let stream: MediaStream | null = null;
  let frame = 0;
  // Settles the result as "stopped" when stop() is called from outside: the frame loop is
  // cancelled with the tracks, so it cannot do it (the page would wait on a dead camera).
  let refuse: (error: Error) => void = () => undefined;
  const stopTracks = () => {
    stopped = true;
    cancelAnimationFrame(frame);
    stream?.getTracks().forEach((track) => track.stop());
    video.srcObject = null;
  };
  const stop = () => {
    stopTracks();
    refuse(new Error("stopped"));
  };
  const result = new Promise<string>((resolve, reject) => {
    refuse = reject;
    navigator.mediaDevices
      .getUserMedia({ video: { facingMode: "environment" }, audio: false })
      .then(async (media) => {
        stream = media;
        if (stopped) {
          stopTracks();
          reject(new Error("stopped"));
          return;
        }
        video.srcObject = media;
        video.setAttribute("playsinline", "true");
        video.muted = true;
        await video.play();
        const canvas = document.createElement("canvas");
        const context = canvas.getContext("2d", { willReadFrequently: true });
        if (!context) throw new Error("no canvas");
        const tick = () => {
          if (stopped) return reject(new Error("stopped"));
          if (video.readyState >= video.HAVE_CURRENT_DATA && video.videoWidth > 0) {
            canvas.width = video.videoWidth;
            canvas.height = video.videoHeight;
            context.drawImage(video, 0, 0, canvas.width, canvas.height);
            const image = context.getImageData(0, 0, canvas.width, canvas.height);
            const code = jsQR(image.data, image.width, image.height, { inversionAttempts: "dontInvert" });
            if (code && code.data) {
              stopTracks();
              resolve(code.data);
              return;
            }
          }
          frame = requestAnimationFrame(tick);
        };
        tick();
      })
      .catch((error) => {
        stopTracks();
        reject(error);
      });
  });
  return { result, stop };
}
