// The transfer benchmark's handler: reads the payload's buffer and answers its length.
export default function length({ buffer }) {
  return buffer.byteLength;
}
