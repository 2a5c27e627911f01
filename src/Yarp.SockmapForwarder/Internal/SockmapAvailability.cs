namespace Yarp.SockmapForwarder.Internal;

/// <summary>Whether this process can use the sockmap data path, and why not.</summary>
internal sealed record SockmapAvailability(bool Usable, string Detail);
