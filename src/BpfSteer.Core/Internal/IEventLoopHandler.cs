namespace BpfSteer.Internal;

/// <summary>Something an <see cref="EventLoop"/> polls (a listen socket, a connection); called on the loop thread only.</summary>
internal interface IEventLoopHandler
{
    /// <summary>The descriptor reported <paramref name="events"/> (an epoll event mask).</summary>
    void OnEvents(uint events);
}
