// irc/casemap.hpp — RFC 1459's case rules and name syntax.
//
// RFC 1459 §2.2: because of IRC's Scandinavian origin, `{}|` are the lower-case forms of
// `[]\`, and servers commonly also treat `~` as the lower case of `^` (the "rfc1459"
// CASEMAPPING that this server advertises in 005). Two nicks or two channel names are the
// same when their casefold() forms are equal.
#pragma once

#include <string>
#include <string_view>

namespace irc {

// The RFC 1459 lower-case form of `s`: A-Z -> a-z, [ -> {, ] -> }, \ -> |, ^ -> ~.
std::string casefold(std::string_view s);

// The longest nickname the server accepts (advertised as NICKLEN in 005).
inline constexpr std::size_t kNickLen = 30;
// The longest channel name, prefix included (RFC 1459: 200; we take RFC 2812's 50).
inline constexpr std::size_t kChannelLen = 50;

// True for a valid nickname: a letter or special ([]\`_^{|}) first, then letters, digits,
// specials and '-', at most kNickLen characters.
bool valid_nick(std::string_view nick);
// True for a valid channel name: '#' or '&', then up to kChannelLen-1 characters that are
// not space, comma, BEL, NUL, CR or LF.
bool valid_channel(std::string_view name);
// True when `name` starts like a channel ('#' or '&').
bool is_channel_name(std::string_view name);

}  // namespace irc
