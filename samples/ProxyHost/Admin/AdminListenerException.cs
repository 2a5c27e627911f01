namespace ProxyHost.Admin;

/// <summary>The admin listener cannot start; the message names <c>BpfSteer:Admin:Url</c>.</summary>
internal sealed class AdminListenerException(string message, Exception inner) : IOException(message, inner);
