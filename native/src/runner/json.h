// Just enough JSON for the runner: the control socket's requests (one flat
// object per line, {"cmd":"key","qnum":30,"down":true}) and the agent's
// CONFIG.json (small nested objects). Replies are built as text.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace runner {

struct JsonValue {
    enum Kind { Null, Bool, Number, String, Array, Object } kind = Null;
    bool b = false;
    double n = 0;
    std::string s;
    std::vector<JsonValue> items;               // Array
    std::map<std::string, JsonValue> members;   // Object (a repeated key: the last wins)

    const JsonValue* get(const std::string& key) const {
        auto it = members.find(key);
        return it == members.end() ? nullptr : &it->second;
    }
};

// Any JSON value (nesting bounded); nullopt when `text` is not valid JSON.
std::optional<JsonValue> parse_json(const std::string& text);

// The members of a JSON object; nullopt when `text` is not one valid object.
std::optional<std::map<std::string, JsonValue>> parse_object(const std::string& text);

// "..." with JSON escapes.
std::string json_quote(const std::string& s);

}  // namespace runner
