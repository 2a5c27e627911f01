namespace ProxyHost.Admin;

/// <summary>Where an admin URL or an HTTP endpoint URL binds: one IP address, every address, or <c>localhost</c>.</summary>
internal enum BindKind
{
    Ip,
    Any,
    Localhost,
}
