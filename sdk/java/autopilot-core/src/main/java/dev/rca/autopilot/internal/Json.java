package dev.rca.autopilot.internal;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.time.temporal.TemporalAccessor;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The little JSON the SDK needs, without a dependency: writing envelopes (RFC 8259, compact, UTF-8 by the caller)
 * and reading the service's small answers. Values JSON cannot hold (dates, UUIDs, enums, anything else) are
 * written as their {@code toString()}, as the Python SDK does; a non-finite number or a cycle makes the value
 * unencodable ({@link IllegalArgumentException}), so the one event is dropped, not the batch.
 */
public final class Json {
    private static final int MAX_DEPTH = 64;

    private Json() {}

    public static String write(Object value) {
        JsonOut out = new JsonOut(256);
        write(out, value, 0);
        return out.toString();
    }

    public static void write(JsonOut out, Object value, int depth) {
        if (depth > MAX_DEPTH) {
            throw new IllegalArgumentException("nested deeper than " + MAX_DEPTH + " levels (a cycle?)");
        }
        if (value == null) {
            out.ascii("null");
        } else if (value instanceof String) {
            string(out, (String) value);
        } else if (value instanceof Boolean) {
            out.ascii(((Boolean) value) ? "true" : "false");
        } else if (value instanceof Integer || value instanceof Long || value instanceof Short
                || value instanceof Byte || value instanceof BigInteger) {
            out.ascii(value.toString());
        } else if (value instanceof Double || value instanceof Float) {
            double number = ((Number) value).doubleValue();
            if (Double.isNaN(number) || Double.isInfinite(number)) {
                throw new IllegalArgumentException("the number " + number + " has no JSON form");
            }
            out.ascii(number == Math.rint(number) && Math.abs(number) < 1e15 ? Long.toString((long) number) + ".0"
                    : Double.toString(number));
        } else if (value instanceof BigDecimal) {
            out.ascii(((BigDecimal) value).toString());
        } else if (value instanceof Map) {
            out.put('{');
            boolean first = true;
            for (Map.Entry<?, ?> entry : ((Map<?, ?>) value).entrySet()) {
                if (!first) {
                    out.put(',');
                }
                first = false;
                string(out, String.valueOf(entry.getKey()));
                out.put(':');
                write(out, entry.getValue(), depth + 1);
            }
            out.put('}');
        } else if (value instanceof Collection || value instanceof Object[]) {
            Iterable<?> items = value instanceof Collection ? (Collection<?>) value : List.of((Object[]) value);
            out.put('[');
            boolean first = true;
            for (Object item : items) {
                if (!first) {
                    out.put(',');
                }
                first = false;
                write(out, item, depth + 1);
            }
            out.put(']');
        } else if (value instanceof Optional) {
            write(out, ((Optional<?>) value).orElse(null), depth + 1);
        } else if (value instanceof Number || value instanceof TemporalAccessor || value instanceof CharSequence) {
            string(out, value.toString());
        } else {
            string(out, String.valueOf(value));
        }
    }

    /** A JSON string, UTF-8: quotes, backslashes and control characters escaped; a lone surrogate as U+FFFD. */
    static void string(JsonOut out, String text) {
        int length = text.length();
        out.ensure(length + 2);
        out.put('"');
        // Runs of characters that need nothing are copied in bulk; the loop body sees only those that need escaping
        // or encoding.
        for (int i = out.plainAscii(text, 0); i < length; i = out.plainAscii(text, i + 1)) {
            char c = text.charAt(i);
            if (c == '"' || c == '\\') {
                out.put('\\').put(c);
            } else if (c < 0x20) {
                switch (c) {
                    case '\n':
                        out.ascii("\\n");
                        break;
                    case '\r':
                        out.ascii("\\r");
                        break;
                    case '\t':
                        out.ascii("\\t");
                        break;
                    default:
                        out.ascii(c < 0x10 ? "\\u000" : "\\u001").put(Character.forDigit(c & 0xf, 16));
                }
            } else if (c == '\u2028' || c == '\u2029') {
                out.ascii(c == '\u2028' ? "\\u2028" : "\\u2029");
            } else if (Character.isSurrogate(c)) {
                // A lone surrogate is not valid UTF-8; a pair is one code point.
                if (Character.isHighSurrogate(c) && i + 1 < length && Character.isLowSurrogate(text.charAt(i + 1))) {
                    out.utf8(Character.toCodePoint(c, text.charAt(++i)));
                } else {
                    out.ascii("\\ufffd");
                }
            } else {
                out.utf8(c);
            }
        }
        out.put('"');
    }

    /** Parse a JSON text into Map (ordered) / List / String / Long / Double / Boolean / null. */
    public static Object parse(String text) {
        Parser parser = new Parser(text);
        parser.space();
        Object value = parser.value(0);
        parser.space();
        if (parser.pos != text.length()) {
            throw parser.error("trailing characters");
        }
        return value;
    }

    private static final class Parser {
        private final String text;
        private int pos;

        Parser(String text) {
            this.text = text;
        }

        Object value(int depth) {
            if (depth > MAX_DEPTH) {
                throw error("nested too deeply");
            }
            if (pos >= text.length()) {
                throw error("unexpected end");
            }
            char c = text.charAt(pos);
            switch (c) {
                case '{':
                    return object(depth);
                case '[':
                    return array(depth);
                case '"':
                    return string();
                case 't':
                    return literal("true", Boolean.TRUE);
                case 'f':
                    return literal("false", Boolean.FALSE);
                case 'n':
                    return literal("null", null);
                default:
                    return number();
            }
        }

        Map<String, Object> object(int depth) {
            Map<String, Object> out = new LinkedHashMap<>();
            pos++;
            space();
            if (peek() == '}') {
                pos++;
                return out;
            }
            while (true) {
                space();
                if (peek() != '"') {
                    throw error("expected a string key");
                }
                String key = string();
                space();
                expect(':');
                space();
                out.put(key, value(depth + 1));
                space();
                char c = next();
                if (c == '}') {
                    return out;
                }
                if (c != ',') {
                    throw error("expected ',' or '}'");
                }
            }
        }

        List<Object> array(int depth) {
            List<Object> out = new ArrayList<>();
            pos++;
            space();
            if (peek() == ']') {
                pos++;
                return out;
            }
            while (true) {
                space();
                out.add(value(depth + 1));
                space();
                char c = next();
                if (c == ']') {
                    return out;
                }
                if (c != ',') {
                    throw error("expected ',' or ']'");
                }
            }
        }

        String string() {
            pos++;
            StringBuilder out = new StringBuilder();
            while (true) {
                char c = next();
                if (c == '"') {
                    return out.toString();
                }
                if (c == '\\') {
                    char e = next();
                    switch (e) {
                        case 'b': out.append('\b'); break;
                        case 'f': out.append('\f'); break;
                        case 'n': out.append('\n'); break;
                        case 'r': out.append('\r'); break;
                        case 't': out.append('\t'); break;
                        case 'u':
                            if (pos + 4 > text.length()) {
                                throw error("bad \\u escape");
                            }
                            out.append((char) Integer.parseInt(text.substring(pos, pos + 4), 16));
                            pos += 4;
                            break;
                        default: out.append(e);
                    }
                } else {
                    out.append(c);
                }
            }
        }

        Object number() {
            int start = pos;
            while (pos < text.length() && "+-0123456789.eE".indexOf(text.charAt(pos)) >= 0) {
                pos++;
            }
            String token = text.substring(start, pos);
            if (token.isEmpty()) {
                throw error("unexpected character");
            }
            try {
                if (token.indexOf('.') < 0 && token.indexOf('e') < 0 && token.indexOf('E') < 0) {
                    return Long.parseLong(token);
                }
                return Double.parseDouble(token);
            } catch (NumberFormatException e) {
                throw error("bad number " + token);
            }
        }

        Object literal(String word, Object value) {
            if (!text.startsWith(word, pos)) {
                throw error("unexpected token");
            }
            pos += word.length();
            return value;
        }

        void space() {
            while (pos < text.length() && Character.isWhitespace(text.charAt(pos))) {
                pos++;
            }
        }

        char peek() {
            if (pos >= text.length()) {
                throw error("unexpected end");
            }
            return text.charAt(pos);
        }

        char next() {
            char c = peek();
            pos++;
            return c;
        }

        void expect(char c) {
            if (next() != c) {
                throw error("expected '" + c + "'");
            }
        }

        IllegalArgumentException error(String why) {
            return new IllegalArgumentException("invalid JSON at " + pos + ": " + why);
        }
    }
}
