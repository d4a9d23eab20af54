-- Flow node rules: which nodes of an Architect flow configuration route to
-- a queue, and what such a node should say once the queue has changed.
-- Nodes of other types, and nodes of other queues, are never touched.
-- Override with ~/.config/gcrun/gcrun/flows.lua.
return {
  -- true when `node` routes to the queue with this id
  routes_to = function(node, queue_id)
    return node.type == "Queue" and type(node.config) == "table" and node.config.queueId == queue_id
  end,

  -- the values a queue node should hold for `queue` (the queue as it is
  -- after the sync: id, name, and its definition)
  settings = function(queue)
    return { queueName = queue.name, timeoutSeconds = 300 }
  end,
}
