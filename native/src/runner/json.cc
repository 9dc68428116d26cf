#include "runner/json.h"

#include <cstdio>
#include <cstdlib>

namespace runner {

namespace {

class Parser {
public:
    explicit Parser(const std::string& t) : t_(t) {}

    std::optional<JsonValue> document() {
        JsonValue v;
        if (!value(v, 0)) return std::nullopt;
        ws();
        if (i_ != t_.size()) return std::nullopt;
        return v;
    }

private:
    static constexpr int kMaxDepth = 32;

    void ws() {
        while (i_ < t_.size() && (t_[i_] == ' ' || t_[i_] == '\t' || t_[i_] == '\r' || t_[i_] == '\n')) ++i_;
    }
    bool eat(char c) {
        if (i_ < t_.size() && t_[i_] == c) {
            ++i_;
            return true;
        }
        return false;
    }
    bool lit(const char* w) {
        size_t n = 0;
        while (w[n]) ++n;
        if (t_.compare(i_, n, w) != 0) return false;
        i_ += n;
        return true;
    }
    static int hexval(char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    }
    bool string(std::string& out) {
        if (!eat('"')) return false;
        while (i_ < t_.size()) {
            char c = t_[i_++];
            if (c == '"') return true;
            if (static_cast<unsigned char>(c) < 0x20) return false;
            if (c != '\\') {
                out += c;
                continue;
            }
            if (i_ >= t_.size()) return false;
            char e = t_[i_++];
            switch (e) {
                case '"': out += '"'; break;
                case '\\': out += '\\'; break;
                case '/': out += '/'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'u': {
                    if (i_ + 4 > t_.size()) return false;
                    unsigned cp = 0;
                    for (int k = 0; k < 4; ++k) {
                        int h = hexval(t_[i_++]);
                        if (h < 0) return false;
                        cp = cp * 16 + static_cast<unsigned>(h);
                    }
                    // Commands are ASCII; anything else is kept as UTF-8 (surrogates as is).
                    if (cp < 0x80) out += static_cast<char>(cp);
                    else if (cp < 0x800) {
                        out += static_cast<char>(0xC0 | (cp >> 6));
                        out += static_cast<char>(0x80 | (cp & 0x3F));
                    } else {
                        out += static_cast<char>(0xE0 | (cp >> 12));
                        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
                        out += static_cast<char>(0x80 | (cp & 0x3F));
                    }
                    break;
                }
                default: return false;
            }
        }
        return false;
    }
    bool number(double& out) {
        size_t start = i_;
        eat('-');
        if (i_ >= t_.size() || !(t_[i_] >= '0' && t_[i_] <= '9')) return false;
        while (i_ < t_.size() && ((t_[i_] >= '0' && t_[i_] <= '9') || t_[i_] == '.' || t_[i_] == 'e' ||
                                  t_[i_] == 'E' || t_[i_] == '+' || t_[i_] == '-'))
            ++i_;
        std::string s = t_.substr(start, i_ - start);
        char* end = nullptr;
        out = std::strtod(s.c_str(), &end);
        return end && *end == '\0';
    }
    bool value(JsonValue& v, int depth) {
        if (depth > kMaxDepth) return false;
        ws();
        if (i_ >= t_.size()) return false;
        char c = t_[i_];
        if (c == '"') {
            v.kind = JsonValue::String;
            return string(v.s);
        }
        if (c == 't' || c == 'f') {
            v.kind = JsonValue::Bool;
            v.b = c == 't';
            return lit(v.b ? "true" : "false");
        }
        if (c == 'n') {
            v.kind = JsonValue::Null;
            return lit("null");
        }
        if (c == '{' || c == '[') {
            bool obj = c == '{';
            v.kind = obj ? JsonValue::Object : JsonValue::Array;
            char close = obj ? '}' : ']';
            ++i_;
            ws();
            if (eat(close)) return true;
            for (;;) {
                ws();
                std::string k;
                if (obj) {
                    if (!string(k)) return false;
                    ws();
                    if (!eat(':')) return false;
                }
                JsonValue inner;
                if (!value(inner, depth + 1)) return false;
                if (obj) v.members[k] = std::move(inner);
                else v.items.push_back(std::move(inner));
                ws();
                if (eat(',')) continue;
                return eat(close);
            }
        }
        v.kind = JsonValue::Number;
        return number(v.n);
    }

    const std::string& t_;
    size_t i_ = 0;
};

}  // namespace

std::optional<JsonValue> parse_json(const std::string& text) { return Parser(text).document(); }

std::optional<std::map<std::string, JsonValue>> parse_object(const std::string& text) {
    auto v = parse_json(text);
    if (!v || v->kind != JsonValue::Object) return std::nullopt;
    return std::move(v->members);
}

std::string json_quote(const std::string& s) {
    std::string o = "\"";
    for (unsigned char c : s) {
        switch (c) {
            case '"': o += "\\\""; break;
            case '\\': o += "\\\\"; break;
            case '\n': o += "\\n"; break;
            case '\r': o += "\\r"; break;
            case '\t': o += "\\t"; break;
            default:
                if (c < 0x20) {
                    char b[8];
                    std::snprintf(b, sizeof b, "\\u%04x", c);
                    o += b;
                } else {
                    o += static_cast<char>(c);
                }
        }
    }
    return o + "\"";
}

}  // namespace runner
