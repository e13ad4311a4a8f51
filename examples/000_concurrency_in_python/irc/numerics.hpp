// irc/numerics.hpp — the numeric replies this server sends, named as RFC 1459 §6 names
// them (plus 005, 333 and 417 from later practice, which every modern client expects).
#pragma once

namespace irc::rpl {

// Registration (RFC 2812 §5.1; 005 is ISUPPORT).
inline constexpr const char* WELCOME = "001";
inline constexpr const char* YOURHOST = "002";
inline constexpr const char* CREATED = "003";
inline constexpr const char* MYINFO = "004";
inline constexpr const char* ISUPPORT = "005";
// Replies (RFC 1459 §6.2).
inline constexpr const char* UMODEIS = "221";
inline constexpr const char* LUSERCLIENT = "251";
inline constexpr const char* LUSEROP = "252";
inline constexpr const char* LUSERUNKNOWN = "253";
inline constexpr const char* LUSERCHANNELS = "254";
inline constexpr const char* LUSERME = "255";
inline constexpr const char* AWAY = "301";
inline constexpr const char* USERHOST = "302";
inline constexpr const char* ISON = "303";
inline constexpr const char* UNAWAY = "305";
inline constexpr const char* NOWAWAY = "306";
inline constexpr const char* WHOISUSER = "311";
inline constexpr const char* WHOWASUSER = "314";
inline constexpr const char* WHOISSERVER = "312";
inline constexpr const char* WHOISOPERATOR = "313";
inline constexpr const char* ENDOFWHO = "315";
inline constexpr const char* WHOISIDLE = "317";
inline constexpr const char* ENDOFWHOIS = "318";
inline constexpr const char* WHOISCHANNELS = "319";
inline constexpr const char* ENDOFWHOWAS = "369";
inline constexpr const char* LISTSTART = "321";
inline constexpr const char* LIST = "322";
inline constexpr const char* LISTEND = "323";
inline constexpr const char* CHANNELMODEIS = "324";
inline constexpr const char* NOTOPIC = "331";
inline constexpr const char* TOPIC = "332";
inline constexpr const char* TOPICWHOTIME = "333";
inline constexpr const char* INVITING = "341";
inline constexpr const char* WHOREPLY = "352";
inline constexpr const char* NAMREPLY = "353";
inline constexpr const char* ENDOFNAMES = "366";
inline constexpr const char* MOTD = "372";
inline constexpr const char* MOTDSTART = "375";
inline constexpr const char* ENDOFMOTD = "376";
// Errors (RFC 1459 §6.1).
inline constexpr const char* ERR_NOSUCHNICK = "401";
inline constexpr const char* ERR_NOSUCHSERVER = "402";
inline constexpr const char* ERR_NOSUCHCHANNEL = "403";
inline constexpr const char* ERR_CANNOTSENDTOCHAN = "404";
inline constexpr const char* ERR_TOOMANYCHANNELS = "405";
inline constexpr const char* ERR_WASNOSUCHNICK = "406";
inline constexpr const char* ERR_NOORIGIN = "409";
inline constexpr const char* ERR_NORECIPIENT = "411";
inline constexpr const char* ERR_NOTEXTTOSEND = "412";
inline constexpr const char* ERR_INPUTTOOLONG = "417";
inline constexpr const char* ERR_UNKNOWNCOMMAND = "421";
inline constexpr const char* ERR_NOMOTD = "422";
inline constexpr const char* ERR_NONICKNAMEGIVEN = "431";
inline constexpr const char* ERR_ERRONEUSNICKNAME = "432";
inline constexpr const char* ERR_NICKNAMEINUSE = "433";
inline constexpr const char* ERR_USERNOTINCHANNEL = "441";
inline constexpr const char* ERR_NOTONCHANNEL = "442";
inline constexpr const char* ERR_USERONCHANNEL = "443";
inline constexpr const char* ERR_NOTREGISTERED = "451";
inline constexpr const char* ERR_NEEDMOREPARAMS = "461";
inline constexpr const char* ERR_ALREADYREGISTRED = "462";
inline constexpr const char* ERR_PASSWDMISMATCH = "464";
inline constexpr const char* ERR_KEYSET = "467";
inline constexpr const char* ERR_CHANNELISFULL = "471";
inline constexpr const char* ERR_UNKNOWNMODE = "472";
inline constexpr const char* ERR_INVITEONLYCHAN = "473";
inline constexpr const char* ERR_BANNEDFROMCHAN = "474";
inline constexpr const char* ERR_BADCHANNELKEY = "475";
inline constexpr const char* ERR_CHANOPRIVSNEEDED = "482";
inline constexpr const char* ERR_UMODEUNKNOWNFLAG = "501";
inline constexpr const char* ERR_USERSDONTMATCH = "502";

}  // namespace irc::rpl
