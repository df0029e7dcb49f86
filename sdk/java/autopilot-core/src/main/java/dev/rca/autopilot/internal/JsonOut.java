package dev.rca.autopilot.internal;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * A growable UTF-8 byte buffer that JSON is written into: the worker keeps one and reuses it batch after batch, so
 * encoding a batch allocates no builder, no intermediate string and no per-event text (a fresh 100+ KiB builder per
 * batch, grown, turned into a string and then into bytes, was most of the worker's CPU).
 */
public final class JsonOut {
    private static final byte[] HEX = "0123456789abcdef".getBytes(StandardCharsets.US_ASCII);
    private byte[] bytes;
    private int size;

    public JsonOut(int capacity) {
        bytes = new byte[Math.max(16, capacity)];
    }

    public int size() {
        return size;
    }

    /** Forget everything written after {@code mark} (an event that failed half-way). */
    public void truncate(int mark) {
        size = mark;
    }

    /** Empty it for the next batch; give the memory back if one huge batch grew it past {@code keep} bytes. */
    public void reset(int keep) {
        size = 0;
        if (bytes.length > keep) {
            bytes = new byte[keep];
        }
    }

    public byte[] toByteArray() {
        return Arrays.copyOf(bytes, size);
    }

    @Override
    public String toString() {
        return new String(bytes, 0, size, StandardCharsets.UTF_8);
    }

    void ensure(int extra) {
        if (size + extra > bytes.length) {
            bytes = Arrays.copyOf(bytes, Math.max(bytes.length * 2, size + extra));
        }
    }

    /** One byte (an ASCII character). */
    JsonOut put(char c) {
        if (size == bytes.length) {
            ensure(1);
        }
        bytes[size++] = (byte) c;
        return this;
    }

    /** Text known to be ASCII (punctuation, digits, attribute names), as it is. */
    JsonOut ascii(String text) {
        int length = text.length();
        ensure(length);
        for (int i = 0; i < length; i++) {
            bytes[size++] = (byte) text.charAt(i);
        }
        return this;
    }

    /** ASCII bytes as they are (the fixed parts of an envelope, encoded once). */
    JsonOut raw(byte[] ascii) {
        ensure(ascii.length);
        System.arraycopy(ascii, 0, bytes, size, ascii.length);
        size += ascii.length;
        return this;
    }

    /**
     * The run of {@code text} from {@code from} that a JSON string takes as it is (printable ASCII but the quote and
     * the backslash), copied in one tight loop; the index where it stopped (the length, or a character to escape).
     */
    int plainAscii(String text, int from) {
        int length = text.length();
        ensure(length - from);
        byte[] out = bytes;
        int at = size;
        int i = from;
        while (i < length) {
            char c = text.charAt(i);
            if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') {
                break;
            }
            out[at++] = (byte) c;
            i++;
        }
        size = at;
        return i;
    }

    /** A character outside ASCII (not a surrogate) or a code point above the BMP, in UTF-8. */
    void utf8(int codePoint) {
        ensure(4);
        if (codePoint < 0x800) {
            bytes[size++] = (byte) (0xc0 | codePoint >> 6);
        } else if (codePoint < 0x10000) {
            bytes[size++] = (byte) (0xe0 | codePoint >> 12);
            bytes[size++] = (byte) (0x80 | codePoint >> 6 & 0x3f);
        } else {
            bytes[size++] = (byte) (0xf0 | codePoint >> 18);
            bytes[size++] = (byte) (0x80 | codePoint >> 12 & 0x3f);
            bytes[size++] = (byte) (0x80 | codePoint >> 6 & 0x3f);
        }
        bytes[size++] = (byte) (0x80 | codePoint & 0x3f);
    }

    /** {@code value} as 16 lower-case hex digits, leading zeros kept (a table: Character.forDigit's branch on
     * random digits mispredicted half the time, and was the worker's dearest line). */
    void hex16(long value) {
        ensure(16);
        byte[] out = bytes;
        int at = size;
        for (int shift = 60; shift >= 0; shift -= 4) {
            out[at++] = HEX[(int) (value >>> shift) & 0xf];
        }
        size = at;
    }
}
